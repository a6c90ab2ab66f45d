"""The vector index: per layer, Chroma collections partitioned by the filters every query applies.

Chroma's metadata filters are slow on the embedded client: at 100k items a ``where`` on status
and age rating took 570 ms where the same nearest-neighbour search without it took 3 ms, and a
2 % genre filter still 60-100 ms (bench/query_bench.py). So no hot query uses ``where``:

- **Partitions.** Each layer's items live in one collection per review status (pending,
  accepted) and age band (up to 12, 16, 18): a public reader's default (accepted, age at most
  12) is one plain search of one collection. A limit inside a band (at most 6) keeps the
  band's entries whose metadata passes, fetching more until enough pass.
- **Facets.** Each item is also copied into the same partition of each genre of its sources,
  so a genre filter (a few percent of the items) searches one small collection.

Only items a query may show live here (``search.selectors.visible_items``); PostgreSQL stays
the source of truth and ``manage.py rebuild_index`` rebuilds every collection from it. No
documents are stored (the text is in the database; a hash in the metadata tells a stale entry).
Vectors are computed by our embedder and passed in, and the collections carry our embedding
function, so Chroma never falls back to its own (downloaded) default model. Embedded on disk
(``CHROMA_PATH``, thread-safe but single-process) or a Chroma server (``CHROMA_URL``) when web
and Celery workers are separate processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import defaultdict
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
from alexandria.embeddings import Embedder, get_embedder

STATUSES = ("pending", "accepted")
# Age bands: the public default (at most 12) is one band, so one collection.
AGE_BANDS = {"to12": (0, 6, 12), "16": (16,), "18": (18,)}
BAND_OF_AGE = {age: band for band, ages in AGE_BANDS.items() for age in ages}
# A post-filtered search asks for 4k entries (at least 100: Chroma's HNSW search explores
# ef_search = 100 candidates anyway, so up to that many cost no more than k), then 16k, ...
# until k pass.
OVERFETCH_GROWTH = 4
HNSW_EF_SEARCH = 100


@dataclass(frozen=True)
class Hit:
    id: int
    similarity: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """What a search may return: statuses, an age limit, one genre and one kind."""

    statuses: tuple[str, ...] = STATUSES
    max_age_rating: int | None = None
    genre: str | None = None
    kind: str | None = None

    def admits(self, metadata: dict[str, Any]) -> bool:
        """Whether an entry of a partition this scope searches passes the limits within it
        (the partition's name already holds its status)."""
        return (
            self.max_age_rating is None
            or int(metadata.get("age_rating", 18)) <= self.max_age_rating
        ) and (self.kind is None or metadata.get("kind") == self.kind)

    def bands(self) -> list[str]:
        return [
            band
            for band, ages in AGE_BANDS.items()
            if self.max_age_rating is None or min(ages) <= self.max_age_rating
        ]

    def filters_within_partitions(self) -> bool:
        """Whether the partitions searched can hold entries this scope does not admit."""
        if self.kind is not None:
            return True
        return self.max_age_rating is not None and any(
            max(AGE_BANDS[band]) > self.max_age_rating for band in self.bands()
        )


def text_hash(text: str) -> str:
    """The metadata's stand-in for the stored text: tells an entry with another text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def genre_key(genre: str) -> str:
    """A collection-name-safe key for a genre (same key for any letter case)."""
    folded = genre.strip().casefold()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:40]
    return f"{slug}-{hashlib.sha256(folded.encode()).hexdigest()[:8]}"


class VectorIndex:
    """Collections ``<prefix>_<embedder>_layer_<n>_<status>_<band>`` (the partitions) and
    ``<prefix>_<embedder>_layer_<n>_genre_<key>_<status>_<band>`` (the facets)."""

    def __init__(self, client=None, embedder: Embedder | None = None, prefix: str | None = None):
        self.client = client or chroma_client()
        self.embedder = embedder or get_embedder()
        self.prefix = f"{prefix or settings.SEARCH_COLLECTION_PREFIX}_{self.embedder.name}"
        self._pattern = re.compile(rf"{re.escape(self.prefix)}_layer_(\d+)_(.+)")
        self._catalogue = catalogue(self.client)

    # -- collections -------------------------------------------------------------------
    def _listed(self) -> dict[int, set[str]]:
        """Layer -> the names of its collections, as the server has them now."""
        names: dict[int, set[str]] = defaultdict(set)
        for name in self._catalogue.listed():
            match = self._pattern.fullmatch(name)
            if match:
                names[int(match.group(1))].add(name)
        return names

    def layers(self) -> list[int]:
        """Layers that have a collection."""
        return sorted(self._listed())

    def partition_name(self, layer: int, status: str, band: str, genre: str = "") -> str:
        facet = f"genre_{genre_key(genre)}_" if genre else ""
        return f"{self.prefix}_layer_{layer}_{facet}{status}_{band}"

    def _partitions(self, layer: int) -> list[str]:
        return sorted(name for name in self._listed()[layer] if not self._is_facet(name, layer))

    def _collection(self, name: str, layer: int, create: bool = False):
        """The collection's handle (None when it does not exist and ``create`` is off)."""
        collection = self._catalogue.handles.get(name)
        if collection is None:
            options = {"embedding_function": ChromaEmbeddingFunction(self.embedder.name)}
            if create:
                collection = self.client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"layer": layer},
                    **options,
                )
            else:
                try:
                    collection = self.client.get_collection(name, **options)
                except NotFoundError:
                    return None
            self._catalogue.added(name, collection)
        return collection

    def _call(self, name: str, layer: int, method, *, create: bool = False, **kwargs):
        """``collection.<method>(**kwargs)`` (or ``method(collection, **kwargs)`` for a
        function), with a fresh handle if the collection was dropped and re-created since (a
        rebuild in another process); None if it does not exist."""
        for attempt in (1, 2):
            collection = self._collection(name, layer, create=create)
            if collection is None:
                return None
            try:
                if callable(method):
                    return method(collection, **kwargs)
                return getattr(collection, method)(**kwargs)
            except NotFoundError:
                self._catalogue.removed(name)
                if attempt == 2:
                    return None
        return None

    def drop_layer(self, layer: int) -> None:
        for name in self._listed()[layer]:
            self._catalogue.removed(name)
            with contextlib.suppress(NotFoundError):
                self.client.delete_collection(name)

    # -- writes ------------------------------------------------------------------------
    def placements(self, layer: int, metadatas: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
        """Collection name -> positions of the entries it holds: each entry's partition and
        the same partition of each of its genres."""
        placed: dict[str, list[int]] = defaultdict(list)
        for position, metadata in enumerate(metadatas):
            status, band = metadata["status"], BAND_OF_AGE.get(metadata["age_rating"], "18")
            placed[self.partition_name(layer, status, band)].append(position)
            for genre in filter(None, str(metadata.get("genres", "")).split(",")):
                placed[self.partition_name(layer, status, band, genre)].append(position)
        return placed

    def write(self, name: str, layer: int, ids, vectors: np.ndarray, metadatas) -> None:
        """Upsert entries into one collection (created if missing), in Chroma's batch size,
        with the metadata that collection keeps (``_kept``)."""
        facet = self._is_facet(name, layer)
        batch = write_batch_size(self.client)
        for start in range(0, len(ids), batch):
            self._call(
                name,
                layer,
                "upsert",
                create=True,
                ids=[str(i) for i in ids[start : start + batch]],
                embeddings=np.asarray(vectors[start : start + batch], dtype=np.float32),
                metadatas=[_kept(m, facet) for m in metadatas[start : start + batch]],
            )

    def _is_facet(self, name: str, layer: int) -> bool:
        return name.startswith(f"{self.prefix}_layer_{layer}_genre_")

    def upsert(
        self,
        layer: int,
        ids: Sequence[int],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        *,
        stored: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        """Put each item in its partition and genre facets, and out of the collections its
        stored entry was in (``stored``: the entries as ``entries`` read them, when the
        caller has them; read here otherwise). Only those collections are touched: a write
        costs Chroma 10-20 ms per collection, and a layer has hundreds."""
        if stored is None:
            stored = self.entries(layer, list(ids))
        placed = self.placements(layer, metadatas)
        own = {item_id: stored[item_id] for item_id in ids if item_id in stored}
        self._remove(layer, own, keep=placed, ids=ids)
        for name, positions in placed.items():
            self.write(
                name,
                layer,
                [ids[p] for p in positions],
                np.asarray(vectors)[positions],
                [metadatas[p] for p in positions],
            )

    def delete(self, layer: int, ids: Sequence[int]) -> int:
        """Take the items out of the index; how many were in it."""
        stored = self.entries(layer, list(ids)) if ids else {}
        self._remove(layer, stored)
        return len(stored)

    def _remove(
        self,
        layer: int,
        stored: dict[int, dict[str, Any]],
        keep: dict[str, list[int]] | None = None,
        ids: Sequence[int] = (),
    ) -> None:
        """Take stored entries out of the collections their metadata placed them in, except
        where ``keep`` (placements of ``ids``) puts them again."""
        item_ids = list(stored)
        old = self.placements(layer, [stored[i] for i in item_ids])
        for name, positions in old.items():
            kept = {ids[p] for p in (keep or {}).get(name, [])}
            gone = [str(item_ids[p]) for p in positions if item_ids[p] not in kept]
            if gone:
                self._call(name, layer, "delete", ids=gone)

    # -- reads -------------------------------------------------------------------------
    def entries(
        self,
        layer: int,
        ids: Sequence[int] | None = None,
        *,
        vectors: bool = False,
        scope: Scope | None = None,
    ) -> dict[int, dict[str, Any]]:
        """Stored metadata of the given items (every item without ``ids``), with the vector
        under ``"vector"`` when asked; facets hold copies, so partitions are read (only those
        of ``scope`` when the items are known to be in it)."""
        if ids is not None and not ids:
            return {}
        include = ["metadatas", "embeddings"] if vectors else ["metadatas"]
        kwargs = {"ids": [str(i) for i in ids]} if ids is not None else {}
        found: dict[int, dict[str, Any]] = {}
        names = self._partitions(layer)
        if scope is not None:
            wanted = {
                self.partition_name(layer, st, band)
                for st in scope.statuses
                for band in scope.bands()
            }
            names = [name for name in names if name in wanted]
        for name in names:
            result = self._call(name, layer, "get", include=include, **kwargs)
            if result is None:
                continue
            status = name.removeprefix(f"{self.prefix}_layer_{layer}_").rsplit("_", 1)[0]
            for position, item_id in enumerate(result["ids"]):
                entry = {"status": status, **(result["metadatas"][position] or {})}
                if vectors:
                    entry["vector"] = np.asarray(result["embeddings"][position], np.float32)
                found[int(item_id)] = entry
        return found

    def vectors(
        self, layer: int, ids: Sequence[int], scope: Scope | None = None
    ) -> dict[int, np.ndarray]:
        """Stored vectors of the given items (those in the index; in ``scope``'s partitions
        when given)."""
        return {
            item_id: entry["vector"]
            for item_id, entry in self.entries(layer, list(ids), vectors=True, scope=scope).items()
        }

    def count(self, layer: int) -> int:
        return sum(self._call(name, layer, "count") or 0 for name in self._partitions(layer))

    def query(
        self, layer: int, vectors: np.ndarray, k: int, scope: Scope | None = None
    ) -> list[list[Hit]]:
        """The ``k`` nearest items in ``scope`` per query vector, most similar first (cosine
        similarity): a plain search of the collections that can hold them, entries the
        collections hold beyond the scope filtered out, fetching more until ``k`` pass."""
        if not len(vectors):
            return []
        scope = scope or Scope()
        names = [
            self.partition_name(layer, status, band, scope.genre or "")
            for status in scope.statuses
            for band in scope.bands()
        ]
        post_filter = scope.filters_within_partitions()
        merged: list[list[Hit]] = [[] for _ in range(len(vectors))]
        for name in names:
            found = self._call(
                name, layer, _search, vectors=vectors, k=k, scope=scope if post_filter else None
            )
            for position, hits in enumerate(found or []):
                merged[position].extend(hits)
        return [sorted(hits, key=lambda h: -h.similarity)[:k] for hits in merged]


class BulkLoader:
    """Fills fresh collections (a rebuild) in few, large writes.

    Chroma's embedded client pays 10-20 ms per write call whatever its size (measured: 100
    calls of 17 entries), so writing each genre facet with every batch of items cost more than
    the vectors themselves (226 items/s at 100k). Entries wait per collection until
    ``flush_at`` are there; when more than ``max_buffered`` wait in all, the fullest are
    written first. Use as a context manager: leaving it writes the rest.
    """

    def __init__(self, index: VectorIndex, flush_at: int = 5000, max_buffered: int = 50_000):
        self.index = index
        self.flush_at = flush_at
        self.max_buffered = max_buffered
        self.waiting: dict[str, tuple[int, list, list, list]] = {}
        self.buffered = 0

    def add(self, layer: int, ids: Sequence[int], vectors: np.ndarray, metadatas) -> None:
        for name, positions in self.index.placements(layer, metadatas).items():
            _, wait_ids, wait_vectors, wait_metadatas = self.waiting.setdefault(
                name, (layer, [], [], [])
            )
            wait_ids.extend(ids[p] for p in positions)
            wait_vectors.extend(vectors[p] for p in positions)
            wait_metadatas.extend(metadatas[p] for p in positions)
            self.buffered += len(positions)
            if len(wait_ids) >= self.flush_at:
                self._flush(name)
        while self.buffered > self.max_buffered:
            self._flush(max(self.waiting, key=lambda name: len(self.waiting[name][1])))

    def _flush(self, name: str) -> None:
        layer, ids, vectors, metadatas = self.waiting.pop(name)
        self.buffered -= len(ids)
        self.index.write(name, layer, ids, np.vstack(vectors), metadatas)

    def __enter__(self) -> BulkLoader:
        return self

    def __exit__(self, *exc_info) -> None:
        for name in list(self.waiting):
            self._flush(name)


# An entry's metadata as each collection keeps it. Chroma stores each key of each entry as a
# row of its own, and writes slow down with every key (100k family vectors, 5,000 a call:
# 3,819 vectors/s without metadata, 2,097/s with six keys, about 3,100/s with one or two):
# the collection's name holds the layer and status, and a facet keeps only what post-filtering
# reads (its entries' other fields are read from the partition).
FACET_KEYS = ("kind", "age_rating")


def _kept(metadata: dict[str, Any], facet: bool) -> dict[str, Any]:
    if facet:
        return {key: metadata[key] for key in FACET_KEYS if key in metadata}
    return {key: value for key, value in metadata.items() if key not in ("status", "layer")}


def _search(collection, vectors: np.ndarray, k: int, scope: Scope | None) -> list[list[Hit]]:
    """Nearest entries of one collection; with a scope, only those it admits."""
    wanted = np.asarray(vectors, dtype=np.float32)
    fetch = k if scope is None else max(k * OVERFETCH_GROWTH, HNSW_EF_SEARCH)
    while True:
        # Metadata costs Chroma a lookup per hit: read only to filter.
        include = ["distances"] if scope is None else ["distances", "metadatas"]
        result = collection.query(query_embeddings=wanted, n_results=fetch, include=include)
        metadatas = result["metadatas"] or [[{}] * len(ids) for ids in result["ids"]]
        rows = [
            [
                Hit(int(item_id), 1.0 - float(distance), metadata or {})
                for item_id, distance, metadata in zip(ids, distances, found, strict=True)
            ]
            for ids, distances, found in zip(
                result["ids"], result["distances"], metadatas, strict=True
            )
        ]
        if scope is None:
            return rows
        kept = [[hit for hit in hits if scope.admits(hit.metadata)][:k] for hits in rows]
        # Done when every query has k admitted hits or the collection has no more entries.
        if all(len(hits) >= k or len(raw) < fetch for hits, raw in zip(kept, rows, strict=True)):
            return kept
        fetch *= OVERFETCH_GROWTH
