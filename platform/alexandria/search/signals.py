"""Keep the vector index in step with items created or changed anywhere (pipeline, reviews,
moderation): each change queues a re-index of the item after commit."""

from django.db.models.signals import m2m_changed, post_save

from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.services.indexing import index_after_commit

M2M_CHANGES = {"post_add", "post_remove", "post_clear"}


def item_saved(sender, instance: KnowledgeItem, **kwargs) -> None:
    index_after_commit([instance.pk])


def item_provenance_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in M2M_CHANGES:
        return
    if reverse and isinstance(instance, KnowledgeItem):
        # derived_from changed from the parent's side: the children's provenance changed.
        index_after_commit(pk_set or [])
    elif isinstance(instance, KnowledgeItem):
        index_after_commit([instance.pk])
    else:
        # An anchor gained or lost items.
        index_after_commit(pk_set or [])


def profile_saved(sender, instance, **kwargs) -> None:
    """A source's age rating feeds the metadata of every item grounded in it, and of the
    items abstracted from those."""
    item_ids = set(
        KnowledgeItem.objects.filter(anchors__source_id=instance.source_id).values_list(
            "pk", flat=True
        )
    )
    frontier = set(item_ids)
    through = KnowledgeItem.derived_from.through
    while frontier:
        children = set(
            through.objects.filter(to_knowledgeitem_id__in=frontier).values_list(
                "from_knowledgeitem_id", flat=True
            )
        )
        frontier = children - item_ids
        item_ids |= frontier
    index_after_commit(item_ids)


def connect() -> None:
    from alexandria.pipeline.models import SourceProfile

    post_save.connect(item_saved, sender=KnowledgeItem, dispatch_uid="search.item_saved")
    for through in (KnowledgeItem.anchors.through, KnowledgeItem.derived_from.through):
        m2m_changed.connect(
            item_provenance_changed,
            sender=through,
            dispatch_uid=f"search.provenance.{through.__name__}",
        )
    post_save.connect(profile_saved, sender=SourceProfile, dispatch_uid="search.profile_saved")
