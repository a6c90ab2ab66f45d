"""Building abstraction layers (Step 4): node of layer n → probes → neighbours → layer n+1.

Stop criteria: no layer above ``ABSTRACTION_MAX_LAYERS``; a node either phase judges useless
ends its branch; a new item too close to an item it combines (``ABSTRACTION_NOVELTY_THRESHOLD``)
is dropped as a restatement; a judge_usefulness job judges the items each composition created
(``services.usefulness``): useless ones are rejected, and a layer whose new items are mostly
useless or mostly restatements stops; a layer whose nodes yield nothing new ends the climb.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alexandria.core.tasking import Task, enqueue
from alexandria.embeddings import get_embedder, similarity_threshold
from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import OUTSTANDING, cancel_job, create_job
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.layers.models import LayerBuild, NodeAbstraction, UsefulnessVerdict
from alexandria.layers.services.provenance import IRRELEVANT, relevant_items
from alexandria.layers.services.usefulness import count_composition, queue_judgement, stop_reason
from alexandria.search.selectors import is_visible, visible_items
from alexandria.search.vector_index import VectorIndex
from alexandria.sources.fingerprints import copy_reason, index_for_sources
from alexandria.textproc.item_quality import item_problems
from jobkinds import abstract

logger = logging.getLogger(__name__)
IN_PROGRESS = (
    NodeAbstraction.Phase.PROBING,
    NodeAbstraction.Phase.RETRIEVING,
    NodeAbstraction.Phase.COMPOSING,
)


def _node_payload(item: KnowledgeItem) -> dict[str, Any]:
    return {"id": item.pk, "kind": item.kind, "text": item.text[: abstract.TEXT_MAX_CHARS]}


def eligible_nodes(layer: int):
    """Settled items of ``layer`` (merge-checked canonical, visible) not yet abstracted; a new
    item of an abstraction only once judged useful (items without a verdict predate the judge)."""
    return visible_items().filter(
        Q(usefulness__isnull=True) | Q(usefulness__useful=True),
        layer=layer,
        merge_check__isnull=False,
        abstraction_run__isnull=True,
    )


def schedule_abstractions(limit: int | None = None) -> int:
    """Start probe jobs for up to ``limit`` eligible nodes, lowest layers first."""
    limit = limit or settings.ABSTRACTION_NODES_PER_RUN
    started = 0
    stopped = set(
        LayerBuild.objects.filter(status=LayerBuild.Status.STOPPED).values_list("layer", flat=True)
    )
    for layer in range(1, settings.ABSTRACTION_MAX_LAYERS):
        if started >= limit:
            break
        # A stopped layer gets no more items, and no layer is built on it.
        if layer in stopped or layer + 1 in stopped:
            continue
        nodes = list(eligible_nodes(layer).order_by("pk")[: limit - started])
        if not nodes:
            continue
        with transaction.atomic():
            build, _ = LayerBuild.objects.get_or_create(layer=layer + 1)
            if build.status != LayerBuild.Status.BUILDING:
                build.status = LayerBuild.Status.BUILDING
                build.stop_reason = ""
                build.save(update_fields=["status", "stop_reason", "updated_at"])
            for node in nodes:
                job = create_job(
                    abstract.KIND.name,
                    {
                        "prompt_version": abstract.PROMPT_VERSION,
                        "phase": "probe",
                        "layer": layer,
                        "node": _node_payload(node),
                    },
                )
                NodeAbstraction.objects.create(node=node, layer=layer, probe_job=job)
        started += len(nodes)
    update_layer_builds()
    return started


def update_layer_builds() -> None:
    """Mark builds complete once no node of the layer below waits (for abstraction or for the
    outstanding judge job on its usefulness) or is in progress. An item whose judge job failed
    stays unjudged, so it is never abstracted."""
    for build in LayerBuild.objects.filter(status=LayerBuild.Status.BUILDING):
        below = build.layer - 1
        if eligible_nodes(below).exists():
            continue
        if UsefulnessVerdict.objects.filter(
            item__layer=below, useful__isnull=True, run__judge_job__status__in=OUTSTANDING
        ).exists():
            continue
        if NodeAbstraction.objects.filter(layer=below, phase__in=IN_PROGRESS).exists():
            continue
        build.status = LayerBuild.Status.COMPLETE
        if not KnowledgeItem.objects.filter(layer=build.layer).exists():
            build.stop_reason = (
                f"no new items: every node of layer {below} was judged useless or only "
                "restated what it combines"
            )
        build.save(update_fields=["status", "stop_reason", "updated_at"])


def stop_layer_build(build: LayerBuild, reason: str) -> None:
    """Stop building a layer: no new probe jobs for the nodes below it and none for its own
    (running ones finish)."""
    build.status = LayerBuild.Status.STOPPED
    build.stop_reason = reason
    build.save(update_fields=["status", "stop_reason", "updated_at"])


def stop_if_unproductive(build: LayerBuild) -> bool:
    """Stop a layer whose new items are mostly useless or restatements (see ``stop_reason``)."""
    if build.status == LayerBuild.Status.STOPPED:
        return False
    reason = stop_reason(build)
    if reason:
        stop_layer_build(build, reason)
        logger.info("layer %s stopped: %s", build.layer, reason)
    return bool(reason)


def record_probes(job: Job, output: dict[str, Any]) -> NodeAbstraction:
    """Phase 1 result: keep the probes and look up their neighbours after commit."""
    run = NodeAbstraction.objects.select_for_update().get(probe_job=job)
    if output["useless"] or not output["probes"]:
        run.phase = NodeAbstraction.Phase.USELESS
        run.save(update_fields=["phase", "updated_at"])
        return run
    run.probes = output["probes"]
    run.phase = NodeAbstraction.Phase.RETRIEVING
    run.save(update_fields=["probes", "phase", "updated_at"])
    enqueue(Task.COMPOSE_ABSTRACTION, run.pk)
    return run


def start_composition(run_id: int, index: VectorIndex | None = None) -> Job | None:
    """Find each probe's nearest items of the node's layer and queue the compose job."""
    run = NodeAbstraction.objects.select_related("node").get(pk=run_id)
    if run.phase != NodeAbstraction.Phase.RETRIEVING:
        return None
    node = run.node
    if not is_visible(node):
        run.phase = NodeAbstraction.Phase.FAILED
        run.message = "the node was merged, hidden or rejected before composition"
        run.save(update_fields=["phase", "message", "updated_at"])
        return None
    index = index or VectorIndex()
    per_probe = settings.ABSTRACTION_NEIGHBOURS_PER_PROBE
    relations: dict[int, str] = {}
    if run.layer in index.layers():
        vectors = index.embedder.embed_texts([probe["text"] for probe in run.probes])
        for probe, hits in zip(
            run.probes, index.query(run.layer, vectors, per_probe + 1), strict=True
        ):
            for hit in [h for h in hits if h.id != node.pk][:per_probe]:
                relations.setdefault(hit.id, probe["relation"])
    neighbours = {
        item.pk: item
        for item in visible_items().filter(pk__in=relations, layer=run.layer).exclude(pk=node.pk)
    }
    chosen = [i for i in relations if i in neighbours][: abstract.MAX_NEIGHBOURS]
    payload = {
        "prompt_version": abstract.PROMPT_VERSION,
        "phase": "compose",
        "layer": run.layer,
        "node": _node_payload(node),
        "neighbours": [{**_node_payload(neighbours[i]), "relation": relations[i]} for i in chosen],
    }
    with transaction.atomic():
        job = create_job(abstract.KIND.name, payload)
        run.compose_job = job
        run.neighbour_ids = chosen
        run.phase = NodeAbstraction.Phase.COMPOSING
        run.save(update_fields=["compose_job", "neighbour_ids", "phase", "updated_at"])
    return job


@dataclass
class CompositionCheck:
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def grounding_sources(item_ids: set[int]) -> set[int]:
    """The sources items rest on: their anchors' and those of the items they derive from."""
    sources: set[int] = set()
    seen: set[int] = set()
    frontier = set(item_ids)
    while frontier:
        seen |= frontier
        sources.update(
            Anchor.objects.filter(items__in=frontier).values_list("source_id", flat=True)
        )
        bases = KnowledgeItem.objects.filter(abstractions__in=frontier)
        frontier = set(bases.values_list("pk", flat=True)) - seen
    return sources


def _written(item: dict[str, Any]) -> list[str]:
    return [item["text"], item.get("antithesis", ""), *item.get("steps", [])]


def check_composition(job: Job, output: dict[str, Any]) -> CompositionCheck:
    """Keep new items that combine only the node and its retrieved neighbours, that repeat
    no ``RETENTION_MAX_RUN_WORDS`` consecutive words of a source those rest on, that pass the
    quality gate (``textproc.item_quality``) and that are relevant to at least one item they
    combine: the irrelevant ones leave ``combines`` (``provenance``), so neither
    ``derived_from`` nor the citations include them."""
    shown = [job.payload["node"], *job.payload["neighbours"]]
    texts = {n["id"]: n["text"] for n in shown}
    sources = index_for_sources(grounding_sources(set(texts)))
    check = CompositionCheck()
    for position, item in enumerate(output["items"]):
        unknown = sorted(set(item["combines"]) - set(texts))
        if unknown:
            check.rejected.append(f"item {position}: combines unknown ids {unknown[:10]}")
        elif item["kind"] == "instruction" and not item.get("steps"):
            check.rejected.append(f"item {position}: no_steps: an instruction needs steps")
        elif runs := [r for text in _written(item) if text for r in sources.copied_runs(text)]:
            check.rejected.append(f"item {position}: {copy_reason(runs)}")
        elif problems := item_problems(item["kind"], item["text"], steps=item.get("steps", ())):
            check.rejected.append(f"item {position}: {problems[0].code}: {problems[0].message}")
        elif relevant := relevant_items(
            item["text"], {i: texts[i] for i in dict.fromkeys(item["combines"])}
        ):
            check.kept.append({**item, "combines": relevant})
        else:
            check.rejected.append(
                f"item {position}: {IRRELEVANT}: none of the items it combines is about it"
            )
    return check


def _details(item: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {"relation": item.get("relation", "")}
    if item["kind"] == KnowledgeItem.Kind.HYPOTHESIS:
        details["stance"] = item.get("stance", "neutral")
        details["antithesis"] = item.get("antithesis", "")
    else:
        details["goal"] = item["text"]
        details["steps"] = item.get("steps", [])
    return details


def store_composition(job: Job, output: dict[str, Any]) -> list[KnowledgeItem]:
    """Phase 2 result: the new layer's items, minus restatements of what they combine, put to
    a judge_usefulness job; the layer's build counts both and may stop on them."""
    run = NodeAbstraction.objects.select_for_update().get(compose_job=job)
    check = check_composition(job, output)
    if output["useless"] or not check.kept:
        run.phase = (
            NodeAbstraction.Phase.USELESS if output["useless"] else NodeAbstraction.Phase.DONE
        )
        run.save(update_fields=["phase", "updated_at"])
        return []
    texts = dict(
        KnowledgeItem.objects.filter(
            pk__in={i for item in check.kept for i in item["combines"]}
        ).values_list("pk", "text")
    )
    embedder = get_embedder()
    novelty = similarity_threshold("ABSTRACTION_NOVELTY_THRESHOLD")
    created, dropped = [], 0
    for item in check.kept:
        combined = [i for i in dict.fromkeys(item["combines"]) if i in texts]
        vectors = embedder.embed_texts([item["text"], *(texts[i] for i in combined)])
        if len(combined) and float(np.max(vectors[1:] @ vectors[0])) >= novelty:
            dropped += 1
            continue
        new_item = KnowledgeItem.objects.create(
            kind=item["kind"],
            layer=run.layer + 1,
            text=item["text"].strip(),
            details=_details(item),
            job=job,
            prompt_version=abstract.PROMPT_VERSION,
        )
        new_item.derived_from.set(combined)
        created.append(new_item)
    reindex_items_after_commit(item.pk for item in created)
    if created:
        queue_judgement(run, created, texts)
    run.phase = NodeAbstraction.Phase.DONE
    run.items_created = len(created)
    run.dropped_not_novel = dropped
    run.save(update_fields=["phase", "items_created", "dropped_not_novel", "updated_at"])
    stop_if_unproductive(count_composition(run.layer + 1, created=len(created), dropped=dropped))
    logger.info("abstraction of item %s: %s new, %s not novel", run.node_id, len(created), dropped)
    return created


def abandon_abstractions(node_ids: Iterable[int], reason: str) -> int:
    """Stop the runs in progress from these nodes (withdrawn ones): their outstanding jobs are
    cancelled, so no result builds a new item on them. How many runs were stopped."""
    runs = list(
        NodeAbstraction.objects.select_for_update().filter(
            node_id__in=list(node_ids), phase__in=IN_PROGRESS
        )
    )
    job_ids = [job for run in runs for job in (run.probe_job_id, run.compose_job_id) if job]
    for job in Job.objects.filter(pk__in=job_ids, status__in=OUTSTANDING).order_by("pk"):
        cancel_job(job, reason=reason)
    NodeAbstraction.objects.filter(pk__in=[run.pk for run in runs]).update(
        phase=NodeAbstraction.Phase.FAILED, message=reason, updated_at=timezone.now()
    )
    return len(runs)
