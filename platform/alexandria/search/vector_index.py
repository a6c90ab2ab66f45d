"""The vector index: one Chroma collection per layer, holding the layer's merged items.

Only items a query may show live here (pending or accepted, not merged away); PostgreSQL stays
the source of truth and ``manage.py rebuild_index`` rebuilds every collection from it. Vectors
are computed by our embedder and passed in, and the collections carry our embedding function,
so Chroma never falls back to its own (downloaded) default model. Embedded on disk
(``CHROMA_PATH``, thread-safe but single-process) or a Chroma server (``CHROMA_URL``) when web
and Celery workers are separate processes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from django.conf import settings

from alexandria.embeddings import Embedder, get_embedder


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Our embedder, as Chroma's embedding function for the collections."""

    def __init__(self, embedder_name: str) -> None:
        self.embedder_name = embedder_name

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_embedder(self.embedder_name).embed_texts(list(input)))

    @staticmethod
    def name() -> str:
        return "alexandria"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self.embedder_name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(config["embedder"])

    def default_space(self) -> str:
        return "cosine"


@dataclass(frozen=True)
class Hit:
    id: int
    similarity: float
    metadata: dict[str, Any]


_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def chroma_client():
    """The process's Chroma client for the configured server or path."""
    import chromadb
    from chromadb.config import Settings

    chroma_settings = Settings(anonymized_telemetry=False, allow_reset=False)
    target = settings.CHROMA_URL or f"path:{settings.CHROMA_PATH}"
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(target)
        if client is None:
            if settings.CHROMA_URL:
                url = urlparse(settings.CHROMA_URL)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                client = chromadb.PersistentClient(
                    path=str(settings.CHROMA_PATH), settings=chroma_settings
                )
            _CLIENTS[target] = client
    return client


class VectorIndex:
    """Per-layer collections named ``<prefix>_<embedder>_layer_<n>``."""

    def __init__(self, client=None, embedder: Embedder | None = None, prefix: str | None = None):
        self.client = client or chroma_client()
        self.embedder = embedder or get_embedder()
        self.prefix = f"{prefix or settings.SEARCH_COLLECTION_PREFIX}_{self.embedder.name}"
        self._pattern = re.compile(rf"{re.escape(self.prefix)}_layer_(\d+)")
        self._collections: dict[int, Any] = {}

    def collection_name(self, layer: int) -> str:
        return f"{self.prefix}_layer_{layer}"

    def collection(self, layer: int):
        collection = self._collections.get(layer)
        if collection is None:
            collection = self.client.get_or_create_collection(
                self.collection_name(layer),
                embedding_function=ChromaEmbeddingFunction(self.embedder.name),
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"layer": layer},
            )
            self._collections[layer] = collection
        return collection

    def layers(self) -> list[int]:
        """Layers that have a collection."""
        layers = []
        for collection in self.client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            match = self._pattern.fullmatch(name)
            if match:
                layers.append(int(match.group(1)))
        return sorted(layers)

    def drop_layer(self, layer: int) -> None:
        self._collections.pop(layer, None)
        if layer in self.layers():
            self.client.delete_collection(self.collection_name(layer))

    def upsert(
        self,
        layer: int,
        ids: Sequence[int],
        vectors: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        collection = self.collection(layer)
        batch = max(1, min(self.client.get_max_batch_size(), 5000))
        for start in range(0, len(ids), batch):
            end = start + batch
            collection.upsert(
                ids=[str(i) for i in ids[start:end]],
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                documents=list(documents[start:end]),
                metadatas=list(metadatas[start:end]),
            )

    def delete(self, layer: int, ids: Sequence[int]) -> None:
        if ids and layer in self.layers():
            self.collection(layer).delete(ids=[str(i) for i in ids])

    def count(self, layer: int) -> int:
        return self.collection(layer).count() if layer in self.layers() else 0

    def query(
        self,
        layer: int,
        vectors: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[list[Hit]]:
        """The ``k`` nearest items per query vector, most similar first (cosine similarity)."""
        if not len(vectors):
            return []
        collection = self.collection(layer)
        size = collection.count()
        if size == 0:
            return [[] for _ in range(len(vectors))]
        result = collection.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32),
            n_results=min(k, size),
            where=where or None,
            include=["distances", "metadatas"],
        )
        return [
            [
                Hit(int(item_id), 1.0 - float(distance), metadata or {})
                for item_id, distance, metadata in zip(ids, distances, metadatas, strict=True)
            ]
            for ids, distances, metadatas in zip(
                result["ids"], result["distances"], result["metadatas"], strict=True
            )
        ]

    def vectors(self, layer: int, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors of the given items (those in the index)."""
        if not ids or layer not in self.layers():
            return {}
        result = self.collection(layer).get(ids=[str(i) for i in ids], include=["embeddings"])
        return {
            int(item_id): np.asarray(vector, dtype=np.float32)
            for item_id, vector in zip(result["ids"], result["embeddings"], strict=True)
        }


def where_all(*conditions: dict[str, Any]) -> dict[str, Any] | None:
    """Chroma's ``where``: one condition as is, several under ``$and``."""
    conditions = tuple(c for c in conditions if c)
    if not conditions:
        return None
    if len(conditions) == 1:
        return conditions[0]
    return {"$and": list(conditions)}
