"""MiniLM on onnxruntime against the reference (sentence-transformers on torch).

The fast path must give interchangeable vectors: an index built by one is queried by the
other. Checked on tests/data/embed_check.jsonl (claims, look-alikes, entity names, other
languages, odd spacing, a text past the 256-token limit) and its queries.
"""

import hashlib
import json
import logging
import socket
from pathlib import Path

import numpy as np
import pytest

from alexandria import embeddings
from alexandria.embeddings import (
    MiniLMEmbedder,
    MiniLMExportError,
    export_minilm_onnx,
    get_embedder,
    minilm_model_dir,
    prepare_minilm_onnx,
)

CHECK_SET = Path(__file__).resolve().parents[1] / "data" / "embed_check.jsonl"
# The issue asks >= 0.99; an fp32 export of the same weights reaches 1 - 1e-6, so a lower
# value means a different model (a quantised one, another tokenisation), not rounding.
AGREEMENT = 0.9999


def _check_set() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in CHECK_SET.read_text().splitlines() if line.strip()]
    sentences = [r["text"] for r in rows if r["kind"] == "sentence"]
    queries = [r["text"] for r in rows if r["kind"] == "query"]
    assert len(sentences) >= 50 and len(queries) >= 10
    return sentences, queries


@pytest.fixture(scope="module")
def reference() -> MiniLMEmbedder:
    return MiniLMEmbedder("torch")


@pytest.fixture(scope="module")
def fast() -> MiniLMEmbedder:
    return MiniLMEmbedder("onnx")


def test_minilm_runs_on_onnxruntime_unless_told_otherwise(settings):
    settings.SEARCH_MINILM_ONNX = True
    embedder = get_embedder("minilm")
    assert (embedder.name, embedder.dimension, embedder.runtime) == ("minilm", 384, "onnx")


def test_fast_vectors_agree_with_the_reference(reference, fast):
    sentences, queries = _check_set()
    texts = sentences + queries
    expected, got = reference.embed_texts(texts), fast.embed_texts(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    cosines = np.sum(expected * got, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= AGREEMENT, f"{cosines[worst]:.6f} for {texts[worst][:60]!r}"
    # A query is embedded alone (no padding): the same vector as inside a padded batch.
    alone = np.vstack([fast.embed_texts([q]) for q in queries])
    assert np.min(np.sum(alone * expected[len(sentences) :], axis=1)) >= AGREEMENT


def test_fast_rankings_equal_the_reference(reference, fast):
    sentences, queries = _check_set()

    def top5(embedder: MiniLMEmbedder) -> list[list[str]]:
        scores = embedder.embed_texts(queries) @ embedder.embed_texts(sentences).T
        return [[sentences[i] for i in np.argsort(-row, kind="stable")[:5]] for row in scores]

    assert top5(fast) == top5(reference)


def test_export_is_reproducible_offline(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("the export must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    cached = prepare_minilm_onnx()
    again = export_minilm_onnx(minilm_model_dir(), tmp_path / cached.name)

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(again) == digest(cached)
    assert not list(tmp_path.glob(".export-*"))  # the working files are gone


def test_a_failed_export_falls_back_to_torch_and_says_so(tmp_path, monkeypatch, caplog):
    def broken(model_dir, target):
        raise MiniLMExportError("simulated")

    monkeypatch.setattr(embeddings, "export_minilm_onnx", broken)
    with pytest.raises(MiniLMExportError):
        MiniLMEmbedder("onnx", cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="alexandria.embeddings"):
        embedder = MiniLMEmbedder("auto", cache_dir=tmp_path)
    assert embedder.runtime == "torch"
    assert "simulated" in caplog.text
    assert embedder.embed_texts(["a"]).shape == (1, 384)
