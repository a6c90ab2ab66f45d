"""Writes for knowledge items."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.services.indexing import index_after_commit


def hide_item(item: KnowledgeItem, reason: str) -> bool:
    """Take an item out of queries and review, saying why; False when it was already hidden."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the item is hidden.")
    updated = (
        KnowledgeItem.objects.filter(pk=item.pk)
        .exclude(status=KnowledgeItem.Status.HIDDEN)
        .update(status=KnowledgeItem.Status.HIDDEN, hidden_reason=reason, updated_at=timezone.now())
    )
    item.refresh_from_db(fields=["status", "hidden_reason", "updated_at"])
    if updated:
        index_after_commit([item.pk])
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
        index_after_commit([item.pk])
    return bool(updated)
