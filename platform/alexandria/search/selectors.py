"""Reads: which items are visible, where they come from, and how far each layer has got."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from alexandria.jobs.models import Job
from alexandria.jobs.services import OUTSTANDING
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.search import conf
from alexandria.search.models import LayerBuild, NodeAbstraction

VISIBLE_STATUSES = (KnowledgeItem.Status.PENDING, KnowledgeItem.Status.ACCEPTED)
# A source without an age rating yet counts as adults-only until it is rated.
UNRATED_AGE = 18
MAX_DERIVATION_DEPTH = 32


def visible_items() -> QuerySet[KnowledgeItem]:
    """Items a query may show: pending or accepted, and not merged into another item."""
    return KnowledgeItem.objects.filter(status__in=VISIBLE_STATUSES, merged_into__isnull=True)


def is_visible(item: KnowledgeItem) -> bool:
    return item.status in VISIBLE_STATUSES and item.merged_into_id is None


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
        .defer("source__text")
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


def age_ratings(anchors_by_item: dict[int, list[Anchor]]) -> dict[int, int]:
    """The highest age rating among each item's sources (unrated or unsourced: adults only)."""
    return {
        item_id: max((source_age_rating(a.source) for a in anchors), default=UNRATED_AGE)
        for item_id, anchors in anchors_by_item.items()
    }


@dataclass(frozen=True)
class LayerProgress:
    layer: int
    items: int
    hypotheses: int
    instructions: int
    merged: int
    hidden_or_rejected: int
    awaiting_merge_check: int
    pending_jobs: dict[str, int]
    nodes_abstracted: int
    nodes_in_progress: int
    build_status: str
    stop_reason: str


def layer_progress() -> list[LayerProgress]:
    """Per layer: its items, merges, outstanding jobs and how far building on it has got."""
    counts = {
        row["layer"]: row
        for row in KnowledgeItem.objects.values("layer").annotate(
            items=Count("id", filter=Q(status__in=VISIBLE_STATUSES, merged_into__isnull=True)),
            hypotheses=Count(
                "id",
                filter=Q(status__in=VISIBLE_STATUSES, merged_into__isnull=True, kind="hypothesis"),
            ),
            merged=Count("id", filter=Q(merged_into__isnull=False)),
            removed=Count("id", filter=~Q(status__in=VISIBLE_STATUSES)),
            unchecked=Count(
                "id",
                filter=Q(
                    status__in=VISIBLE_STATUSES,
                    merged_into__isnull=True,
                    merge_check__isnull=True,
                ),
            ),
        )
    }
    verify_jobs: dict[int, int] = defaultdict(int)
    for layer, n in (
        Job.objects.filter(kind="verify_merge", status__in=OUTSTANDING, replica_of__isnull=True)
        .values_list("merge_verification__candidate__layer")
        .annotate(n=Count("id"))
    ):
        if layer is not None:
            verify_jobs[layer] += n
    abstraction = defaultdict(dict)
    for layer, phase, n in NodeAbstraction.objects.values_list("layer", "phase").annotate(
        n=Count("id")
    ):
        abstraction[layer][phase] = n
    builds = {build.layer: build for build in LayerBuild.objects.all()}
    layers = sorted(set(counts) | set(builds))
    in_progress = (
        NodeAbstraction.Phase.PROBING,
        NodeAbstraction.Phase.RETRIEVING,
        NodeAbstraction.Phase.COMPOSING,
    )
    progress = []
    for layer in layers:
        row = counts.get(layer, {})
        phases = abstraction.get(layer, {})
        build = builds.get(layer)
        progress.append(
            LayerProgress(
                layer=layer,
                items=row.get("items", 0),
                hypotheses=row.get("hypotheses", 0),
                instructions=row.get("items", 0) - row.get("hypotheses", 0),
                merged=row.get("merged", 0),
                hidden_or_rejected=row.get("removed", 0),
                awaiting_merge_check=row.get("unchecked", 0),
                pending_jobs={
                    "verify_merge": verify_jobs.get(layer, 0),
                    "abstract": sum(phases.get(phase, 0) for phase in in_progress),
                },
                nodes_abstracted=sum(n for phase, n in phases.items() if phase not in in_progress),
                nodes_in_progress=sum(phases.get(phase, 0) for phase in in_progress),
                build_status=build.status if build else ("source" if layer == 1 else ""),
                stop_reason=build.stop_reason if build else "",
            )
        )
    return progress


def max_layers() -> int:
    return conf.get("ABSTRACTION_MAX_LAYERS")
