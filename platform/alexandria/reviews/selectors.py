"""Reads for reviews: what a member may review, task details, ledgers, reports."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum

from alexandria.contributors.models import Contributor
from alexandria.knowledge.models import Anchor, KnowledgeItem, Review
from alexandria.reviews.models import EditProposal, Report, ReputationEvent, ReviewTask

Status = KnowledgeItem.Status
# The provenance shown with an item: at most this many items, this many derivations deep.
PROVENANCE_MAX_ITEMS = 100
PROVENANCE_MAX_DEPTH = 16
# Items whose text is not shown again: taken out by moderators or by a takedown.
SUPPRESSED = (Status.HIDDEN, Status.WITHDRAWN)


def visible_items() -> QuerySet[KnowledgeItem]:
    """Items that may be served to readers: pending or accepted, not merged, not planted gold."""
    return KnowledgeItem.objects.filter(
        status__in=[Status.PENDING, Status.ACCEPTED], merged_into__isnull=True, gold__isnull=True
    )


def _open_task_filter(now: datetime) -> Q:
    """Unanswered, unexpired, and on an item that still takes answers (pending, or gold and not
    withdrawn)."""
    return Q(answered_at__isnull=True, expires_at__gt=now) & (
        Q(item__status=Status.PENDING, item__merged_into__isnull=True)
        | (Q(item__gold__isnull=False) & ~Q(item__status=Status.WITHDRAWN))
    )


def open_tasks_of(contributor: Contributor, *, now: datetime) -> QuerySet[ReviewTask]:
    return ReviewTask.objects.filter(_open_task_filter(now), contributor=contributor)


def _not_for(queryset: QuerySet[KnowledgeItem], contributor: Contributor, now: datetime):
    """Drop items the member wrote, reviewed, or holds an open task on."""
    reviewed = Review.objects.filter(reviewer=contributor).values("item_id")
    held = ReviewTask.objects.filter(
        contributor=contributor, answered_at__isnull=True, expires_at__gt=now
    ).values("item_id")
    return queryset.exclude(author=contributor).exclude(pk__in=reviewed).exclude(pk__in=held)


def reviewable_items_for(contributor: Contributor, *, now: datetime) -> QuerySet[KnowledgeItem]:
    """Pending items this member may review, those closest to a decision first.

    An item already handed out REVIEW_OPEN_TASKS_PER_ITEM times is held back until one of
    those tasks is answered or expires.
    """
    queryset = _not_for(
        KnowledgeItem.objects.filter(
            status=Status.PENDING,
            merged_into__isnull=True,
            gold__isnull=True,
            # Not before its evidence is verified: an unsupported claim is rejected anyway.
            support=KnowledgeItem.Support.SUPPORTED,
        ),
        contributor,
        now,
    )
    return (
        queryset.annotate(
            open_tasks=Count(
                "review_tasks",
                filter=Q(review_tasks__answered_at__isnull=True, review_tasks__expires_at__gt=now),
                distinct=True,
            ),
            votes=Count("reviews", distinct=True),
        )
        .filter(open_tasks__lt=settings.REVIEW_OPEN_TASKS_PER_ITEM)
        .order_by("-votes", "created_at", "pk")
    )


def gold_items_for(contributor: Contributor, *, now: datetime) -> QuerySet[KnowledgeItem]:
    return _not_for(
        KnowledgeItem.objects.filter(gold__isnull=False).exclude(status=Status.WITHDRAWN),
        contributor,
        now,
    )


def vote_weights(item: KnowledgeItem) -> dict[str, float]:
    """Weight sums per verdict of the votes that count (supported, not supported, unclear)."""
    sums = {
        row["verdict"]: row["weight"]
        for row in Review.objects.filter(item=item).values("verdict").annotate(weight=Sum("weight"))
    }
    verdicts = (Review.Verdict.SUPPORTED, Review.Verdict.NOT_SUPPORTED, Review.Verdict.UNCLEAR)
    return {verdict: float(sums.get(verdict) or 0.0) for verdict in verdicts}


def item_anchors(item: KnowledgeItem) -> QuerySet[Anchor]:
    return (
        item.anchors.select_related("source").defer("source__text").order_by("source_id", "start")
    )


def open_edit_proposals(item: KnowledgeItem) -> QuerySet[EditProposal]:
    return (
        item.edit_proposals.filter(status=EditProposal.Status.OPEN)
        .annotate(endorsements=Count("endorsers"))
        .order_by("-endorsements", "created_at", "pk")
    )


def reputation_ledger(contributor: Contributor, *, limit: int) -> QuerySet[ReputationEvent]:
    return contributor.reputation_events.order_by("-created_at", "-pk")[:limit]


def reports_after(after: int, *, unrelayed_only: bool, limit: int) -> QuerySet[Report]:
    queryset = Report.objects.filter(pk__gt=after).select_related("item", "reporter")
    if unrelayed_only:
        queryset = queryset.filter(relayed_at__isnull=True)
    return queryset.order_by("pk")[:limit]


@dataclass
class ProvenanceNode:
    """One item an abstraction rests on: ``depth`` derivations below it, the items it combines
    in turn (ids, shown or not) and its own anchors (none shown for suppressed items)."""

    item: KnowledgeItem
    depth: int
    derived_from: list[int] = field(default_factory=list)
    anchors: list[Anchor] = field(default_factory=list)


@dataclass
class Provenance:
    nodes: list[ProvenanceNode]
    omitted: int = 0


def provenance(item: KnowledgeItem) -> Provenance:
    """The items ``item`` derives from, recursively down to layer 1 (breadth first, at most
    ``PROVENANCE_MAX_ITEMS``; ``omitted`` counts those left out), each with its anchors."""
    through = KnowledgeItem.derived_from.through
    parents: dict[int, list[int]] = defaultdict(list)
    depth_of: dict[int, int] = {}
    seen, omitted = {item.pk}, 0
    frontier = [item.pk]
    for depth in range(1, PROVENANCE_MAX_DEPTH + 1):
        rows = (
            through.objects.filter(from_knowledgeitem_id__in=frontier)
            .order_by("from_knowledgeitem_id", "to_knowledgeitem_id")
            .values_list("from_knowledgeitem_id", "to_knowledgeitem_id")
        )
        frontier = []
        for child, parent in rows:
            parents[child].append(parent)
            if parent in seen:
                continue
            seen.add(parent)
            if len(depth_of) >= PROVENANCE_MAX_ITEMS:
                omitted += 1
                continue
            depth_of[parent] = depth
            frontier.append(parent)
        if not frontier:
            break
    items = KnowledgeItem.objects.in_bulk(list(depth_of))
    shown = [pk for pk in depth_of if pk in items and items[pk].status not in SUPPRESSED]
    anchors_of: dict[int, list[Anchor]] = defaultdict(list)
    for anchor in (
        Anchor.objects.filter(items__in=shown)
        .annotate(item_id=F("items"))
        .select_related("source")
        .defer("source__text")
        .order_by("source_id", "start", "end")
    ):
        anchors_of[anchor.item_id].append(anchor)
    nodes = [
        ProvenanceNode(items[pk], depth_of[pk], parents.get(pk, []), anchors_of.get(pk, []))
        for pk in depth_of
        if pk in items
    ]
    return Provenance(nodes=nodes, omitted=omitted)
