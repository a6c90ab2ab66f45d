"""Stance verdicts: asking volunteers whether neighbouring hypotheses support or contradict each
other (judge_stance jobs), and recording their answers for /ask to reuse.

A periodic run walks visible hypotheses not scanned yet, accepted ones first, finds their
nearest hypotheses in the index (at least ``ASK_NEIGHBOUR_THRESHOLD`` similar, the bar /ask
lists neighbours at) and queues one job per pair that has neither a verdict nor a job, at most
``STANCE_JOBS_PER_RUN`` per run. Reads (/ask) never create jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from alexandria.embeddings import similarity_threshold
from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.models import StanceScan, StanceVerdict
from alexandria.search.selectors import pair_key, visible_items
from alexandria.search.vector_index import Scope, VectorIndex
from jobkinds import judge_stance

logger = logging.getLogger(__name__)


@dataclass
class StanceRunReport:
    scanned: int = 0
    jobs: int = 0


def _unscanned_hypotheses(limit: int) -> list[KnowledgeItem]:
    """Visible hypotheses without a scan, accepted first, oldest first."""
    accepted_first = Case(
        When(status=KnowledgeItem.Status.ACCEPTED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return list(
        visible_items()
        .filter(kind=KnowledgeItem.Kind.HYPOTHESIS, stance_scan__isnull=True)
        .annotate(accepted_first=accepted_first)
        .order_by("accepted_first", "pk")
        .only("id", "layer", "text")[:limit]
    )


def _neighbours(index: VectorIndex, items: list[KnowledgeItem]) -> dict[int, list[int]]:
    """Each indexed item's nearest visible hypotheses, most similar first (over every layer);
    items not in the index yet are left out, to be scanned once they are."""
    threshold = similarity_threshold("ASK_NEIGHBOUR_THRESHOLD")
    k = settings.STANCE_NEIGHBOURS
    layers = index.layers()
    vectors = {}
    for layer in {item.layer for item in items} & set(layers):
        vectors.update(index.vectors(layer, [item.pk for item in items if item.layer == layer]))
    ids = [item.pk for item in items if item.pk in vectors]
    if not ids:
        return {}
    stacked = np.vstack([vectors[i] for i in ids])
    found: dict[int, dict[int, float]] = {i: {} for i in ids}
    for layer in layers:
        hits_per_item = index.query(
            layer, stacked, k + 1, Scope(kind=KnowledgeItem.Kind.HYPOTHESIS)
        )
        for item_id, hits in zip(ids, hits_per_item, strict=True):
            for hit in hits:
                if hit.id != item_id and hit.similarity >= threshold:
                    found[item_id][hit.id] = hit.similarity
    visible = set(
        visible_items()
        .filter(pk__in={n for near in found.values() for n in near})
        .filter(kind=KnowledgeItem.Kind.HYPOTHESIS)
        .values_list("pk", flat=True)
    )
    return {
        item_id: [n for n in sorted(near, key=lambda n: -near[n]) if n in visible][:k]
        for item_id, near in found.items()
    }


def request_judgement(claim_id: int, other_id: int, texts: dict[int, str]) -> bool:
    """Queue a judge_stance job for the pair; False when it has a verdict or a job already."""
    claim_id, other_id = pair_key(claim_id, other_id)
    if StanceVerdict.objects.filter(claim_id=claim_id, other_id=other_id).exists():
        return False
    limit = judge_stance.TEXT_MAX_CHARS
    payload = {
        "prompt_version": judge_stance.PROMPT_VERSION,
        "claim": {"id": claim_id, "text": texts[claim_id][:limit]},
        "other": {"id": other_id, "text": texts[other_id][:limit]},
    }
    try:
        with transaction.atomic():
            job = create_job(judge_stance.KIND.name, payload)
            StanceVerdict.objects.create(claim_id=claim_id, other_id=other_id, job=job)
    except IntegrityError:  # a concurrent run queued the same pair first
        return False
    return True


def schedule_stance_judgements(index: VectorIndex | None = None) -> StanceRunReport:
    """Queue judge_stance jobs for unjudged pairs of neighbouring hypotheses (capped per run).

    An item is marked scanned once each of its pairs has a verdict or a job; one cut short by
    the cap is scanned again next run (its queued pairs are skipped then)."""
    report = StanceRunReport()
    budget = settings.STANCE_JOBS_PER_RUN
    items = _unscanned_hypotheses(settings.STANCE_ITEMS_PER_RUN)
    if not items or budget <= 0:
        return report
    neighbours = _neighbours(index or VectorIndex(), items)
    wanted = {i for near in neighbours.values() for i in near} | set(neighbours)
    texts = dict(KnowledgeItem.objects.filter(pk__in=wanted).values_list("pk", "text"))
    for item in items:
        if item.pk not in neighbours:
            continue
        complete = True
        for other in neighbours[item.pk]:
            if report.jobs >= budget:
                complete = False
                break
            report.jobs += request_judgement(item.pk, other, texts)
        if not complete:
            break
        StanceScan.objects.get_or_create(item=item)
        report.scanned += 1
    if report.jobs:
        logger.info("stance: %d judge_stance jobs for %d items", report.jobs, report.scanned)
    return report


def record_verdict(job: Job, *, relation: str, reason: str) -> StanceVerdict:
    """Store the canonical judge_stance answer on its pair."""
    verdict = StanceVerdict.objects.get(job=job)
    verdict.relation = relation
    verdict.reason = reason
    verdict.decided_at = timezone.now()
    verdict.save(update_fields=["relation", "reason", "decided_at"])
    return verdict
