"""Keeping the vector index in step with the database (which stays the source of truth)."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from alexandria.knowledge.models import KnowledgeItem
from alexandria.search import conf
from alexandria.search.index import VectorIndex
from alexandria.search.selectors import age_ratings, grounding_anchors, is_visible, visible_items

logger = logging.getLogger(__name__)
TASK_CHUNK = 500
REBUILD_BATCH = 1000

_pending = threading.local()


def index_after_commit(item_ids) -> None:
    """Re-index these items once the current transaction commits (one Celery task per batch).

    Items of a rolled-back transaction are re-read at the next commit, which does no harm.
    """
    if not conf.get("SEARCH_INDEX_ON_COMMIT"):
        return
    pending = getattr(_pending, "ids", None)
    if pending is None:
        pending = _pending.ids = set()
    pending.update(int(i) for i in item_ids)
    transaction.on_commit(_dispatch_pending)


def _dispatch_pending() -> None:
    from tasks.layers import index_items

    ids = sorted(getattr(_pending, "ids", ()) or ())
    _pending.ids = set()
    for start in range(0, len(ids), TASK_CHUNK):
        index_items.delay(ids[start : start + TASK_CHUNK])


def item_metadata(item: KnowledgeItem, age_rating: int, source_ids: list[int]) -> dict:
    """Chroma metadata: scalars only (sources as a comma-separated string)."""
    details = item.details if isinstance(item.details, dict) else {}
    return {
        "layer": item.layer,
        "kind": item.kind,
        "status": item.status,
        "age_rating": age_rating,
        "source_ids": ",".join(str(i) for i in source_ids),
        "stance": str(details.get("stance", "")),
    }


def _metadata_for(items: list[KnowledgeItem]) -> dict[int, dict]:
    anchors = grounding_anchors([item.pk for item in items])
    ratings = age_ratings(anchors)
    return {
        item.pk: item_metadata(
            item, ratings[item.pk], sorted({a.source_id for a in anchors[item.pk]})
        )
        for item in items
    }


def index_items(item_ids: list[int], index: VectorIndex | None = None) -> int:
    """Upsert the visible items among ``item_ids`` and drop the others from the index.

    Items already indexed with the same text only get their metadata refreshed (no embedding).
    Returns how many items are in the index afterwards.
    """
    items = list(KnowledgeItem.objects.filter(pk__in=item_ids))
    if not items:
        return 0
    index = index or VectorIndex()
    known_layers = set(index.layers())
    by_layer: dict[int, list[KnowledgeItem]] = defaultdict(list)
    for item in items:
        if is_visible(item):
            by_layer[item.layer].append(item)
        elif item.layer in known_layers:
            index.delete(item.layer, [item.pk])
    stored = 0
    for layer, layer_items in by_layer.items():
        metadata = _metadata_for(layer_items)
        existing = {}
        if layer in known_layers:
            found = index.collection(layer).get(
                ids=[str(item.pk) for item in layer_items], include=["documents"]
            )
            existing = dict(zip(found["ids"], found["documents"], strict=True))
        unchanged = [item for item in layer_items if existing.get(str(item.pk)) == item.text]
        if unchanged:
            index.collection(layer).update(
                ids=[str(item.pk) for item in unchanged],
                metadatas=[metadata[item.pk] for item in unchanged],
            )
        changed = [item for item in layer_items if existing.get(str(item.pk)) != item.text]
        if changed:
            vectors = index.embedder.embed_texts([item.text for item in changed])
            index.upsert(
                layer,
                [item.pk for item in changed],
                vectors,
                [item.text for item in changed],
                [metadata[item.pk] for item in changed],
            )
        stored += len(layer_items)
    return stored


def sync_recent_changes(window_seconds: int) -> int:
    """Re-index items changed in the last ``window_seconds``: catches changes made with
    ``QuerySet.update`` (moderation, review consensus), which send no signals."""
    since = timezone.now() - timedelta(seconds=window_seconds)
    ids = list(KnowledgeItem.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    for start in range(0, len(ids), REBUILD_BATCH):
        index_items(ids[start : start + REBUILD_BATCH])
    return len(ids)


@dataclass(frozen=True)
class RebuildReport:
    layers: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.layers.values())


def rebuild_index(
    index: VectorIndex | None = None, *, batch_size: int = REBUILD_BATCH
) -> RebuildReport:
    """Drop every collection and re-create them from the database's visible items."""
    index = index or VectorIndex()
    for layer in index.layers():
        index.drop_layer(layer)
    counts: dict[int, int] = defaultdict(int)
    last_id = 0
    while True:
        items = list(
            visible_items()
            .filter(pk__gt=last_id)
            .order_by("pk")
            .only("id", "kind", "layer", "text", "status", "details", "merged_into")[:batch_size]
        )
        if not items:
            break
        last_id = items[-1].pk
        metadata = _metadata_for(items)
        vectors = index.embedder.embed_texts([item.text for item in items])
        by_layer: dict[int, list[int]] = defaultdict(list)
        for position, item in enumerate(items):
            by_layer[item.layer].append(position)
        for layer, positions in by_layer.items():
            index.upsert(
                layer,
                [items[p].pk for p in positions],
                vectors[positions],
                [items[p].text for p in positions],
                [metadata[items[p].pk] for p in positions],
            )
            counts[layer] += len(positions)
    logger.info("rebuilt the vector index: %s", dict(counts))
    return RebuildReport(layers=dict(sorted(counts.items())))
