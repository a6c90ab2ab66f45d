"""Reads: how far each layer has got (items, merges, outstanding jobs, its build)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import OUTSTANDING
from alexandria.knowledge.models import KnowledgeItem
from alexandria.layers.models import LayerBuild, NodeAbstraction
from alexandria.search.selectors import VISIBLE_STATUSES


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
    new_items: int
    judged_useful: int
    judged_useless: int
    dropped_not_novel: int


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
                new_items=build.items_created if build else 0,
                judged_useful=build.judged_useful if build else 0,
                judged_useless=build.judged_useless if build else 0,
                dropped_not_novel=build.dropped_not_novel if build else 0,
            )
        )
    return progress


def max_layers() -> int:
    return settings.ABSTRACTION_MAX_LAYERS
