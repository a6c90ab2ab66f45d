"""Speed never costs correctness: a filtered search over the partitioned index returns exactly
what a brute-force search of the same vectors with the same filters returns."""

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from alexandria.search.vector_index import AGE_BANDS, Scope, VectorIndex

GENRES = ("science", "Law", "cooking", "")
KINDS = ("hypothesis", "instruction")
AGES = tuple(age for ages in AGE_BANDS.values() for age in ages)
SIZE = 600
DIMENSION = 16


class FixedEmbedder:
    name = "fixed"
    dimension = DIMENSION


@pytest.fixture
def index(tmp_path) -> VectorIndex:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    return VectorIndex(client=client, embedder=FixedEmbedder(), prefix="exact")


def entries(rng) -> tuple[np.ndarray, list[dict]]:
    vectors = rng.normal(size=(SIZE, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    metadatas = [
        {
            "kind": KINDS[int(rng.integers(4)) // 3],  # 1 in 4 an instruction
            "status": ("pending", "accepted")[int(rng.integers(2))],
            "age_rating": int(rng.choice(AGES)),
            # Some items have two genres, some none; letter case does not matter.
            "genres": ",".join(
                sorted({GENRES[int(rng.integers(4))], GENRES[int(rng.integers(4))]} - {""})
            ),
        }
        for _ in range(SIZE)
    ]
    return vectors, metadatas


def brute_force(vectors, metadatas, query, k, scope: Scope) -> list[int]:
    genre = scope.genre.casefold() if scope.genre else None
    admitted = [
        i
        for i, metadata in enumerate(metadatas)
        if metadata["status"] in scope.statuses
        and scope.admits(metadata)
        and (genre is None or genre in metadata["genres"].casefold().split(","))
    ]
    similarity = vectors[admitted] @ query
    order = np.argsort(-similarity, kind="stable")[:k]
    return [admitted[i] + 1 for i in order]


SCOPES = [
    Scope(),
    Scope(statuses=("accepted",), max_age_rating=12),
    Scope(statuses=("accepted",)),
    Scope(max_age_rating=6),
    Scope(max_age_rating=0, kind="instruction"),
    Scope(statuses=("accepted",), max_age_rating=16, kind="hypothesis"),
    Scope(statuses=("accepted",), max_age_rating=12, genre="science"),
    Scope(genre="LAW"),
    Scope(statuses=("pending",), max_age_rating=6, genre="cooking", kind="instruction"),
]


@pytest.mark.parametrize("scope", SCOPES, ids=repr)
def test_filtered_search_equals_brute_force(index, scope):
    rng = np.random.default_rng(7)
    vectors, metadatas = entries(rng)
    index.upsert(1, list(range(1, SIZE + 1)), vectors, metadatas)
    queries = rng.normal(size=(20, DIMENSION)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    found = index.query(1, queries, 10, scope)

    for query, hits in zip(queries, found, strict=True):
        assert [hit.id for hit in hits] == brute_force(vectors, metadatas, query, 10, scope)
        assert all(scope.admits(metadatas[hit.id - 1]) for hit in hits)


def test_a_new_status_or_genre_moves_the_entry(index):
    vector = np.eye(DIMENSION, dtype=np.float32)[:1]
    pending = {"kind": "hypothesis", "status": "pending", "age_rating": 0, "genres": "law"}
    index.upsert(1, [5], vector, [pending])
    accepted = {**pending, "status": "accepted", "age_rating": 16, "genres": "science"}

    index.upsert(1, [5], vector, [accepted])

    assert index.count(1) == 1
    assert index.entries(1) == {5: accepted}
    assert index.query(1, vector, 3, Scope(statuses=("pending",))) == [[]]
    assert index.query(1, vector, 3, Scope(max_age_rating=12)) == [[]]
    assert index.query(1, vector, 3, Scope(genre="law")) == [[]]
    (hit,) = index.query(1, vector, 3, Scope(statuses=("accepted",), genre="Science"))[0]
    assert hit.id == 5 and hit.similarity == pytest.approx(1.0)
