"""The figure index: one Chroma collection of figure image embeddings per CLIP model.

A collection is named after the model's identity (``figures.identity``), so embeddings of
two models never share one: a text embedded by one model's text tower is compared only with
images embedded by the same model's image tower. Entries are keyed by figure id and hold no
document, only metadata (source, page, age rating, language: for inspection; what a query
may show is decided by the database). PostgreSQL (``FigureEmbedding``) stays the truth the
index is rebuilt from. The collections carry our embedding function for the ``clip``
embedder, so Chroma never falls back to its own downloaded model.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from chromadb.errors import NotFoundError
from django.conf import settings

from alexandria.chroma import (
    ChromaEmbeddingFunction,
    catalogue,
    chroma_client,
    write_batch_size,
)

EMBEDDER = "clip"


def collection_name(identity: str, prefix: str | None = None) -> str:
    """``<prefix>_figures_<identity as a slug>_<8 hex digits of its sha256>`` (Chroma allows
    letters, digits, dots, dashes and underscores)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", identity).strip("-")[:48]
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{prefix or settings.SEARCH_COLLECTION_PREFIX}_figures_{slug}_{digest}"


@dataclass(frozen=True)
class FigureMatch:
    figure_id: int
    similarity: float


class FigureIndex:
    def __init__(self, client=None, prefix: str | None = None) -> None:
        self.client = client or chroma_client()
        self.prefix = prefix or settings.SEARCH_COLLECTION_PREFIX
        self._catalogue = catalogue(self.client)

    def names(self) -> set[str]:
        """The figure collections there are (listed at most every few seconds)."""
        mark = f"{self.prefix}_figures_"
        return {name for name in self._catalogue.listed() if name.startswith(mark)}

    def has(self, identity: str) -> bool:
        return collection_name(identity, self.prefix) in self.names()

    def _collection(self, name: str, *, create_for: tuple[str, int] | None = None):
        """The collection's handle; created for (identity, dimension) when given, else None
        when it does not exist."""
        collection = self._catalogue.handles.get(name)
        if collection is None:
            function = ChromaEmbeddingFunction(EMBEDDER)
            if create_for is not None:
                identity, dimension = create_for
                collection = self.client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"model": identity, "dimension": dimension},
                    embedding_function=function,
                )
            else:
                try:
                    collection = self.client.get_collection(name, embedding_function=function)
                except NotFoundError:
                    return None
            self._catalogue.added(name, collection)
        return collection

    def _call(self, name: str, method: str, *, create_for=None, **kwargs):
        """``collection.<method>(**kwargs)``, with a fresh handle if the collection was dropped
        and re-created since (a rebuild in another process); None if it does not exist."""
        for _ in (1, 2):
            collection = self._collection(name, create_for=create_for)
            if collection is None:
                return None
            try:
                return getattr(collection, method)(**kwargs)
            except NotFoundError:
                self._catalogue.removed(name)
        return None

    def dimension(self, identity: str) -> int | None:
        """The dimension the model's collection holds (None: no collection yet)."""
        collection = self._collection(collection_name(identity, self.prefix))
        return None if collection is None else int((collection.metadata or {})["dimension"])

    def upsert(
        self,
        identity: str,
        figure_ids: Sequence[int],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Put the figures' embeddings by this model into its collection (created if
        missing), in Chroma's batch size."""
        vectors = np.asarray(vectors, dtype=np.float32)
        name = collection_name(identity, self.prefix)
        batch = write_batch_size(self.client)
        for start in range(0, len(figure_ids), batch):
            self._call(
                name,
                "upsert",
                create_for=(identity, int(vectors.shape[1])),
                ids=[str(i) for i in figure_ids[start : start + batch]],
                embeddings=vectors[start : start + batch],
                metadatas=list(metadatas[start : start + batch]),
            )

    def delete(self, figure_ids: Sequence[int]) -> int:
        """Take the figures out of every model's collection; how many entries went."""
        ids = [str(i) for i in figure_ids]
        removed = 0
        for name in sorted(self.names()) if ids else []:
            found = self._call(name, "get", ids=ids, include=[])
            if found and found["ids"]:
                self._call(name, "delete", ids=found["ids"])
                removed += len(found["ids"])
        return removed

    def drop_all(self) -> None:
        for name in self.names():
            self._catalogue.removed(name)
            with contextlib.suppress(NotFoundError):
                self.client.delete_collection(name)

    def count(self, identity: str) -> int:
        return self._call(collection_name(identity, self.prefix), "count") or 0

    def query(self, identity: str, vector: np.ndarray, n: int) -> list[FigureMatch]:
        """The ``n`` figures nearest to ``vector`` in the model's collection, most similar
        first (cosine similarity); none when the model has no collection."""
        result = self._call(
            collection_name(identity, self.prefix),
            "query",
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            include=["distances"],
        )
        if result is None:
            return []
        return [
            FigureMatch(int(figure_id), 1.0 - float(distance))
            for figure_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]
