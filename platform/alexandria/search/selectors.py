"""Reads: which items are visible, and the sources (anchors, age ratings) behind each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.pipeline.models import SourceProfile
from alexandria.search.models import StanceVerdict
from alexandria.sources.models import Source

VISIBLE_STATUSES = (KnowledgeItem.Status.PENDING, KnowledgeItem.Status.ACCEPTED)
# A source without an age rating yet counts as adults-only until it is rated.
UNRATED_AGE = 18
MAX_DERIVATION_DEPTH = 32
# What a citation never needs of its source: the text and the profile's long or JSON fields
# (decoding them was a fifth of a question's time at 100k items).
HEAVY_SOURCE_FIELDS = (
    "source__text",
    "source__profile__summary",
    "source__profile__age_reasons",
    "source__profile__profile_parts",
    "source__profile__reconstruction",
    "source__profile__fidelity_details",
)


def visible_items() -> QuerySet[KnowledgeItem]:
    """Items a query may show, merge or abstract: pending or accepted, not merged into another
    item, and supported by their evidence (a layer-1 item waits, unverified, for its
    verify_support job)."""
    return KnowledgeItem.objects.filter(
        status__in=VISIBLE_STATUSES,
        merged_into__isnull=True,
        support=KnowledgeItem.Support.SUPPORTED,
    )


def is_visible(item: KnowledgeItem) -> bool:
    return (
        item.status in VISIBLE_STATUSES
        and item.merged_into_id is None
        and item.support == KnowledgeItem.Support.SUPPORTED
    )


def ancestors(item_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each item with every item it is derived from, transitively (itself included)."""
    through = KnowledgeItem.derived_from.through
    result = {item_id: {item_id} for item_id in item_ids}
    parents: dict[int, set[int]] = {}
    frontier = set(result)
    for _ in range(MAX_DERIVATION_DEPTH):
        frontier -= parents.keys()
        if not frontier:
            break
        for child, parent in through.objects.filter(from_knowledgeitem_id__in=frontier).values_list(
            "from_knowledgeitem_id", "to_knowledgeitem_id"
        ):
            parents.setdefault(child, set()).add(parent)
        for item_id in frontier:
            parents.setdefault(item_id, set())
        frontier = set().union(*(parents[i] for i in frontier))
    for item_id, reached in result.items():
        stack = [item_id]
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in reached:
                    reached.add(parent)
                    stack.append(parent)
    return result


def grounding_anchors(item_ids: Iterable[int]) -> dict[int, list[Anchor]]:
    """The anchors behind each item: its own (merged items' included) and those of every item
    it was abstracted from, in source order."""
    lineage = ancestors(item_ids)
    everyone = set().union(*lineage.values()) if lineage else set()
    through = KnowledgeItem.anchors.through
    anchors_of: dict[int, set[int]] = defaultdict(set)
    for item_id, anchor_id in through.objects.filter(knowledgeitem_id__in=everyone).values_list(
        "knowledgeitem_id", "anchor_id"
    ):
        anchors_of[item_id].add(anchor_id)
    wanted = set().union(*anchors_of.values()) if anchors_of else set()
    anchors = {
        anchor.pk: anchor
        for anchor in Anchor.objects.filter(pk__in=wanted)
        .select_related("source", "source__profile")
        .defer(*HEAVY_SOURCE_FIELDS)
    }
    result = {}
    for item_id, reached in lineage.items():
        ids = set().union(*(anchors_of.get(i, set()) for i in reached))
        result[item_id] = sorted(
            (anchors[i] for i in ids), key=lambda a: (a.source_id, a.start, a.end)
        )
    return result


def source_age_rating(source) -> int:
    profile = getattr(source, "profile", None)
    rating = getattr(profile, "age_rating", None)
    return UNRATED_AGE if rating is None else rating


def source_genre(source) -> str:
    profile = getattr(source, "profile", None)
    return str(getattr(profile, "genre", "") or "")


def age_ratings(anchors_by_item: dict[int, list[Anchor]]) -> dict[int, int]:
    """The highest age rating among each item's sources (unrated or unsourced: adults only)."""
    return {
        item_id: max((source_age_rating(a.source) for a in anchors), default=UNRATED_AGE)
        for item_id, anchors in anchors_by_item.items()
    }


def items_grounded_in_source(source_id: int) -> set[int]:
    """Items whose index metadata carries the source's age rating and genre: those anchored
    in it and every item abstracted from them, transitively."""
    item_ids = set(
        KnowledgeItem.objects.filter(anchors__source_id=source_id).values_list("pk", flat=True)
    )
    through = KnowledgeItem.derived_from.through
    frontier = set(item_ids)
    while frontier:
        children = set(
            through.objects.filter(to_knowledgeitem_id__in=frontier).values_list(
                "from_knowledgeitem_id", flat=True
            )
        )
        frontier = children - item_ids
        item_ids |= frontier
    return item_ids


def pair_key(a: int, b: int) -> tuple[int, int]:
    """A stance verdict is stored once per unordered pair, lower id first."""
    return (a, b) if a < b else (b, a)


def stance_verdicts(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Decided judge_stance relations of these pairs (either order), keyed by ``pair_key``."""
    keys = {pair_key(a, b) for a, b in pairs if a != b}
    if not keys:
        return {}
    claims = {claim for claim, _ in keys}
    others = {other for _, other in keys}
    decided = StanceVerdict.objects.filter(
        claim_id__in=claims, other_id__in=others, decided_at__isnull=False
    ).values_list("claim_id", "other_id", "relation")
    return {
        (claim, other): relation for claim, other, relation in decided if (claim, other) in keys
    }


def matching_source_ids(
    *, genre: str = "", keyword: str = "", language: str = "", source: int | None = None
) -> frozenset[int] | None:
    """Sources that pass the source filters of /ask and the public search (None: no source
    filter asked for). A language matches its regional forms too ("de" finds "de-AT")."""
    if not (genre or keyword or language or source):
        return None
    sources = Source.objects.all()
    if source:
        sources = sources.filter(pk=source)
    if genre:
        sources = sources.filter(profile__genre__iexact=genre)
    if language:
        sources = sources.filter(
            Q(language__iexact=language) | Q(language__istartswith=f"{language}-")
        )
    if not keyword:
        return frozenset(sources.values_list("pk", flat=True))
    wanted = keyword.casefold()
    # Keywords are a JSON list, which SQLite cannot search: compared here.
    return frozenset(
        source_id
        for source_id, keywords in SourceProfile.objects.filter(
            source__in=sources.values("pk")
        ).values_list("source_id", "keywords")
        if any(str(k).casefold() == wanted for k in keywords or [])
    )
