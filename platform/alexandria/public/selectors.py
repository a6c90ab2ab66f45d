"""Reads of the public side: only what an anonymous reader may see.

An item is public when search may show it (``search.selectors.is_visible``: pending or
accepted, supported by its evidence, not merged away) and its sources' age ratings are within
the reader's limit; a source is public when it grounds a public item. Hidden, rejected,
withdrawn and unsupported items, and taken-down sources (deleted with their anchors), never
appear; nor does anything about members, nodes or jobs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count

from alexandria.knowledge.models import Anchor, KnowledgeItem, Review
from alexandria.layers.models import MergeRecord
from alexandria.pipeline.models import SourceProfile
from alexandria.reviews.selectors import provenance
from alexandria.search.selectors import (
    VISIBLE_STATUSES,
    age_ratings,
    grounding_anchors,
    is_visible,
    matching_source_ids,
    source_age_rating,
    visible_items,
)
from alexandria.sources.models import Source

DEFAULT_MAX_AGE_RATING = 12
SOURCE_ITEMS_SHOWN = 200
BROWSE_SOURCES_SHOWN = 200


def _public_sources():
    """Sources that ground at least one visible item (their text never read)."""
    return (
        Source.objects.filter(anchors__items__in=visible_items().values("pk"))
        .distinct()
        .select_related("profile")
        .defer("text")
    )


def _within(rating: int, max_age_rating: int | None) -> bool:
    return max_age_rating is None or rating <= max_age_rating


@dataclass
class ProvenanceEntry:
    item: KnowledgeItem
    depth: int
    anchors: list[Anchor]


@dataclass
class ItemDetail:
    item: KnowledgeItem
    age_rating: int
    anchors: list[Anchor]
    reviews: dict[str, int]
    provenance: list[ProvenanceEntry] = field(default_factory=list)
    provenance_not_shown: int = 0
    merged_from: list[KnowledgeItem] = field(default_factory=list)
    built_on_this: list[KnowledgeItem] = field(default_factory=list)


@dataclass(frozen=True)
class ItemLookup:
    """An item page's answer: the detail, the item it was merged into, or why not shown."""

    detail: ItemDetail | None = None
    merged_into: int | None = None
    age_rating: int | None = None


def _shown(item: KnowledgeItem) -> bool:
    return item.status in VISIBLE_STATUSES and item.support == KnowledgeItem.Support.SUPPORTED


def public_item(item_id: int, *, max_age_rating: int | None) -> ItemLookup:
    item = KnowledgeItem.objects.filter(pk=item_id).first()
    if item is None or not _shown(item):
        return ItemLookup()
    if item.merged_into_id is not None:
        return ItemLookup(merged_into=item.merged_into_id)
    if not is_visible(item):
        return ItemLookup()
    anchors = grounding_anchors([item.pk])[item.pk]
    rating = age_ratings({item.pk: anchors})[item.pk]
    if not _within(rating, max_age_rating):
        return ItemLookup(age_rating=rating)
    reviews = dict(
        Review.objects.filter(item=item)
        .order_by()
        .values("verdict")
        .annotate(n=Count("id"))
        .values_list("verdict", "n")
    )
    tree = provenance(item)
    entries = [
        ProvenanceEntry(node.item, node.depth, node.anchors)
        for node in tree.nodes
        if _shown(node.item)
    ]
    merged_ids = MergeRecord.objects.filter(canonical=item, split_at__isnull=True).values(
        "merged_id"
    )
    merged_from = [
        merged
        for merged in KnowledgeItem.objects.filter(pk__in=merged_ids).order_by("pk")
        if _shown(merged)
    ]
    built_on = list(visible_items().filter(derived_from=item).order_by("layer", "pk")[:50])
    return ItemLookup(
        detail=ItemDetail(
            item=item,
            age_rating=rating,
            anchors=anchors,
            reviews=reviews,
            provenance=entries,
            provenance_not_shown=len(tree.nodes) - len(entries) + tree.omitted,
            merged_from=merged_from,
            built_on_this=built_on,
        )
    )


@dataclass
class SourceDetail:
    source: Source
    profile: SourceProfile | None
    age_rating: int
    anchors: list[Anchor]
    items: list[KnowledgeItem]


@dataclass(frozen=True)
class SourceLookup:
    detail: SourceDetail | None = None
    age_rating: int | None = None


def public_source(source_id: int, *, max_age_rating: int | None) -> SourceLookup:
    """A source that grounds a visible item: its citation, profile, the anchors those items
    cite (offsets, hashes, the few words kept) and the items, layer 1 first."""
    source = _public_sources().filter(pk=source_id).first()
    if source is None:
        return SourceLookup()
    rating = source_age_rating(source)
    if not _within(rating, max_age_rating):
        return SourceLookup(age_rating=rating)
    items = list(
        visible_items()
        .filter(anchors__source=source)
        .distinct()
        .order_by("layer", "pk")[:SOURCE_ITEMS_SHOWN]
    )
    anchors = list(
        Anchor.objects.filter(source=source, items__in=[item.pk for item in items])
        .distinct()
        .order_by("start", "end")
    )
    for anchor in anchors:
        anchor.source = source
    return SourceLookup(
        detail=SourceDetail(
            source=source,
            profile=getattr(source, "profile", None),
            age_rating=rating,
            anchors=anchors,
            items=items,
        )
    )


def _rated_public_sources(max_age_rating: int | None) -> list[Source]:
    return [
        source
        for source in _public_sources().order_by("title", "pk")
        if _within(source_age_rating(source), max_age_rating)
    ]


def genres(*, max_age_rating: int | None) -> list[tuple[str, int]]:
    """Genres of the public sources, with how many sources each, most first."""
    counts = Counter(
        source.profile.genre
        for source in _rated_public_sources(max_age_rating)
        if getattr(source, "profile", None) and source.profile.genre
    )
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0].casefold()))


def keywords(*, max_age_rating: int | None) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for source in _rated_public_sources(max_age_rating):
        profile = getattr(source, "profile", None)
        if profile:
            counts.update({str(k).strip().casefold() for k in profile.keywords or [] if k})
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def sources_by(*, genre: str = "", keyword: str = "", max_age_rating: int | None) -> list[Source]:
    """Public sources of a genre or with a keyword, by title."""
    ids = matching_source_ids(genre=genre, keyword=keyword)
    return [
        source
        for source in _rated_public_sources(max_age_rating)
        if ids is None or source.pk in ids
    ][:BROWSE_SOURCES_SHOWN]
