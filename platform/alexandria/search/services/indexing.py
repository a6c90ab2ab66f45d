"""Keeping the vector index in step with the database (which stays the source of truth).

Writes ask for their items to be re-indexed (``alexandria.knowledge.services``); the periodic
sync re-indexes whatever changed recently as a safety net and reports what it had to fix.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.selectors import (
    age_ratings,
    grounding_anchors,
    is_visible,
    items_grounded_in_source,
    source_genre,
    visible_items,
)
from alexandria.search.vector_index import BulkLoader, VectorIndex, text_hash

logger = logging.getLogger(__name__)
REBUILD_BATCH = 1000


def item_metadata(
    item: KnowledgeItem, age_rating: int, source_ids: list[int], genres: list[str] = ()
) -> dict:
    """Chroma metadata: what places an entry (status, age rating, genres), what filters read
    within a partition (kind), its sources, and a hash of the text (the text itself stays in
    the database). Scalars only: sources and genres as comma-separated strings."""
    return {
        "kind": item.kind,
        "status": item.status,
        "age_rating": age_rating,
        "source_ids": ",".join(str(i) for i in source_ids),
        "genres": ",".join(sorted({g.strip().casefold() for g in genres if g.strip()})),
        "text_sha": text_hash(item.text),
    }


def _metadata_for(items: list[KnowledgeItem]) -> dict[int, dict]:
    anchors = grounding_anchors([item.pk for item in items])
    ratings = age_ratings(anchors)
    return {
        item.pk: item_metadata(
            item,
            ratings[item.pk],
            sorted({a.source_id for a in anchors[item.pk]}),
            [source_genre(a.source) for a in anchors[item.pk]],
        )
        for item in items
    }


@dataclass
class IndexUpdate:
    """What bringing some items' index entries up to date found (before) and left (after)."""

    indexed: int = 0
    """Visible items in the index afterwards."""
    missing: int = 0
    """Visible items the index lacked."""
    stale: int = 0
    """Items indexed with another text or other metadata than the database's."""
    removed: int = 0
    """Items in the index though no longer visible (hidden, rejected, merged)."""

    @property
    def out_of_step(self) -> int:
        return self.missing + self.stale + self.removed

    def add(self, other: IndexUpdate) -> None:
        self.indexed += other.indexed
        self.missing += other.missing
        self.stale += other.stale
        self.removed += other.removed


def index_items(item_ids: list[int], index: VectorIndex | None = None) -> IndexUpdate:
    """Upsert the visible items among ``item_ids`` and drop the others from the index.

    Items already indexed with the same text only get their metadata refreshed (no embedding).
    """
    update = IndexUpdate()
    items = list(KnowledgeItem.objects.filter(pk__in=item_ids))
    if not items:
        return update
    index = index or VectorIndex()
    known_layers = set(index.layers())
    visible: dict[int, list[KnowledgeItem]] = defaultdict(list)
    invisible: dict[int, list[str]] = defaultdict(list)
    for item in items:
        if is_visible(item):
            visible[item.layer].append(item)
        elif item.layer in known_layers:
            invisible[item.layer].append(str(item.pk))
    for layer, ids in invisible.items():
        update.removed += index.delete(layer, [int(i) for i in ids])
    for layer, layer_items in visible.items():
        metadata = _metadata_for(layer_items)
        stored = (
            index.entries(layer, [item.pk for item in layer_items], vectors=True)
            if layer in known_layers
            else {}
        )
        changed, relabelled = [], []
        for item in layer_items:
            entry = stored.get(item.pk)
            if entry is None:
                update.missing += 1
                changed.append(item)
            elif entry.get("text_sha") != metadata[item.pk]["text_sha"]:
                update.stale += 1
                changed.append(item)
            elif {k: v for k, v in entry.items() if k != "vector"} != metadata[item.pk]:
                update.stale += 1
                relabelled.append(item)
        if relabelled:
            # Same text, same vector: a new status, age rating or genre may move the entry.
            index.upsert(
                layer,
                [item.pk for item in relabelled],
                np.vstack([stored[item.pk]["vector"] for item in relabelled]),
                [metadata[item.pk] for item in relabelled],
                stored=stored,
            )
        if changed:
            index.upsert(
                layer,
                [item.pk for item in changed],
                index.embedder.embed_texts([item.text for item in changed]),
                [metadata[item.pk] for item in changed],
                stored=stored,
            )
        update.indexed += len(layer_items)
    return update


def _index_in_batches(item_ids: list[int]) -> IndexUpdate:
    index = VectorIndex()
    update = IndexUpdate()
    for start in range(0, len(item_ids), REBUILD_BATCH):
        update.add(index_items(item_ids[start : start + REBUILD_BATCH], index))
    return update


def index_source_items(source_id: int) -> int:
    """Re-index the items whose metadata carries the source's age rating; returns how many."""
    item_ids = sorted(items_grounded_in_source(source_id))
    _index_in_batches(item_ids)
    return len(item_ids)


def sync_recent_changes(window_seconds: int) -> int:
    """Re-index items changed in the last ``window_seconds``; returns how many.

    The safety net behind the writes' own re-index requests: an item it finds out of step
    was written without one (or its index task is still queued), so it says how many.
    """
    since = timezone.now() - timedelta(seconds=window_seconds)
    ids = list(KnowledgeItem.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    update = _index_in_batches(ids)
    if update.out_of_step:
        # With indexing on commit switched off this sync is the only way in: nothing to warn.
        log = logger.warning if settings.SEARCH_INDEX_ON_COMMIT else logger.info
        log(
            "index sync: %s of %s recently changed items were out of step with the index "
            "(%s missing, %s stale, %s no longer visible); a write did not ask to re-index "
            "them, or its index task is still queued",
            update.out_of_step,
            len(ids),
            update.missing,
            update.stale,
            update.removed,
        )
    return len(ids)


@dataclass(frozen=True)
class RebuildReport:
    layers: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.layers.values())


def rebuild_index(
    index: VectorIndex | None = None,
    *,
    batch_size: int = REBUILD_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Drop every collection and re-create them from the database's visible items;
    ``progress(done, total)`` is called after each batch."""
    index = index or VectorIndex()
    for layer in index.layers():
        index.drop_layer(layer)
    total = visible_items().count()
    counts: dict[int, int] = defaultdict(int)
    with BulkLoader(index) as loader:
        for items in _visible_in_batches(batch_size):
            metadata = _metadata_for(items)
            vectors = index.embedder.embed_texts([item.text for item in items])
            by_layer: dict[int, list[int]] = defaultdict(list)
            for position, item in enumerate(items):
                by_layer[item.layer].append(position)
            for layer, positions in by_layer.items():
                loader.add(
                    layer,
                    [items[p].pk for p in positions],
                    vectors[positions],
                    [metadata[items[p].pk] for p in positions],
                )
                counts[layer] += len(positions)
            if progress is not None:
                progress(sum(counts.values()), total)
    logger.info("rebuilt the vector index: %s", dict(counts))
    return RebuildReport(layers=dict(sorted(counts.items())))


def _visible_in_batches(batch_size: int) -> Iterator[list[KnowledgeItem]]:
    last_id = 0
    while True:
        items = list(
            visible_items()
            .filter(pk__gt=last_id)
            .order_by("pk")
            .only("id", "kind", "layer", "text", "status", "details", "merged_into")[:batch_size]
        )
        if not items:
            return
        last_id = items[-1].pk
        yield items
