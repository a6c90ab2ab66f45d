"""The process's Chroma clients, their collection catalogues and our embedding function.

Shared by every index kept in Chroma: one client per configured target (the embedded
PersistentClient is thread-safe but single-process, so separate web and Celery processes use a
Chroma server, ``CHROMA_URL``).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlparse

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from django.conf import settings

from alexandria.embeddings import get_embedder

LISTING_TTL = 5.0
WRITE_BATCH = 5000


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


_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def chroma_client():
    """The process's Chroma client for the configured server or path."""
    import chromadb
    from chromadb.config import Settings

    target = settings.CHROMA_URL or f"path:{settings.CHROMA_PATH}"
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(target)
        if client is None:
            # Built only here: pydantic settings cost about 2 ms to construct.
            chroma_settings = Settings(anonymized_telemetry=False, allow_reset=False)
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


class _Catalogue:
    """One client's collection names and handles, shared by the process's indexes.

    Listing collections costs Chroma about 0.2 ms per collection (it parses each one's
    configuration): 56 ms at 300 collections, twice per question. So the list is kept for
    ``LISTING_TTL`` seconds; this process's own creates and drops update it at once, another
    process's show within the TTL. A handle whose collection was dropped elsewhere is fetched
    again (``VectorIndex._call``).
    """

    def __init__(self, client) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.names: set[str] | None = None
        self.listed_at = 0.0
        self.handles: dict[str, Any] = {}

    def listed(self) -> set[str]:
        with self.lock:
            if self.names is None or time.monotonic() - self.listed_at > LISTING_TTL:
                self.names = {
                    listed if isinstance(listed, str) else listed.name
                    for listed in self.client.list_collections()
                }
                self.listed_at = time.monotonic()
            return set(self.names)

    def added(self, name: str, handle) -> None:
        with self.lock:
            self.handles[name] = handle
            if self.names is not None:
                self.names.add(name)

    def removed(self, name: str) -> None:
        with self.lock:
            self.handles.pop(name, None)
            if self.names is not None:
                self.names.discard(name)


_CATALOGUES: dict[int, _Catalogue] = {}


def catalogue(client) -> _Catalogue:
    with _CLIENTS_LOCK:
        catalogue = _CATALOGUES.get(id(client))
        if catalogue is None or catalogue.client is not client:
            catalogue = _CATALOGUES[id(client)] = _Catalogue(client)
        return catalogue


def write_batch_size(client) -> int:
    """Entries per write call: Chroma's limit, at most ``WRITE_BATCH`` (a server that does not
    advertise one answers -1)."""
    limit = client.get_max_batch_size()
    return min(limit, WRITE_BATCH) if limit > 0 else WRITE_BATCH
