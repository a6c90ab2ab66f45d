"""Writes for knowledge items."""

import threading
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alexandria.core.errors import AlexandriaError
from alexandria.core.tasking import Task, enqueue, send
from alexandria.knowledge.models import KnowledgeItem

# Items per index_items task.
INDEX_TASK_CHUNK = 500

_pending_reindex = threading.local()


def reindex_items_after_commit(item_ids: Iterable[int]) -> None:
    """Bring these items' index entries up to date once the current transaction commits.

    Every write that creates items or changes their text, status, merges, anchors or
    derivations calls this (the search app's periodic sync only catches what was missed). The
    ids of one transaction go out together, in index_items tasks of ``INDEX_TASK_CHUNK``; ids of
    a rolled-back transaction are re-read at the next commit, which does no harm.
    """
    if not settings.SEARCH_INDEX_ON_COMMIT:
        return
    pending = getattr(_pending_reindex, "ids", None)
    if pending is None:
        pending = _pending_reindex.ids = set()
    pending.update(int(i) for i in item_ids)
    transaction.on_commit(_send_pending_reindex)


def _send_pending_reindex() -> None:
    ids = sorted(getattr(_pending_reindex, "ids", ()) or ())
    _pending_reindex.ids = set()
    for start in range(0, len(ids), INDEX_TASK_CHUNK):
        send(Task.INDEX_ITEMS, ids[start : start + INDEX_TASK_CHUNK])


def reindex_source_items_after_commit(source_id: int) -> None:
    """The source's age rating changed: once committed, re-index the items grounded in it
    and those abstracted from them (their metadata carries the rating)."""
    if settings.SEARCH_INDEX_ON_COMMIT:
        enqueue(Task.INDEX_SOURCE_ITEMS, source_id)


def hide_item(item: KnowledgeItem, reason: str) -> bool:
    """Take an item out of queries and review, saying why; False when it was already hidden."""
    reason = reason.strip()
    if not reason:
        raise AlexandriaError("Say why the item is hidden.")
    # A withdrawn item stays withdrawn (a hidden one could be restored).
    updated = (
        KnowledgeItem.objects.filter(pk=item.pk)
        .exclude(status__in=[KnowledgeItem.Status.HIDDEN, KnowledgeItem.Status.WITHDRAWN])
        .update(status=KnowledgeItem.Status.HIDDEN, hidden_reason=reason, updated_at=timezone.now())
    )
    item.refresh_from_db(fields=["status", "hidden_reason", "updated_at"])
    if updated:
        reindex_items_after_commit([item.pk])
    return bool(updated)


def restore_item(item: KnowledgeItem) -> bool:
    """Bring a hidden item back as pending, so review and consensus decide its status afresh.

    False when the item was not hidden.
    """
    updated = KnowledgeItem.objects.filter(pk=item.pk, status=KnowledgeItem.Status.HIDDEN).update(
        status=KnowledgeItem.Status.PENDING, hidden_reason="", updated_at=timezone.now()
    )
    item.refresh_from_db(fields=["status", "hidden_reason", "updated_at"])
    if updated:
        reindex_items_after_commit([item.pk])
    return bool(updated)


def withdraw_items(item_ids: Iterable[int], reason: str) -> set[int]:
    """Withdraw items whose evidence was taken down, for good (no restoring, no review); the
    ids of those that were not withdrawn yet."""
    ids = set(
        KnowledgeItem.objects.filter(pk__in=list(item_ids))
        .exclude(status=KnowledgeItem.Status.WITHDRAWN)
        .values_list("pk", flat=True)
    )
    KnowledgeItem.objects.filter(pk__in=ids).update(
        status=KnowledgeItem.Status.WITHDRAWN, hidden_reason=reason, updated_at=timezone.now()
    )
    reindex_items_after_commit(ids)
    return ids
