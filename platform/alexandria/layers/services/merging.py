"""Merging items that say the same thing (Steps 3 and 5), and splitting merges again.

A merge keeps the canonical item's text and gives it the union of provenance: the merged
item's anchors (hence its sources) and, for abstractions, the items it was derived from. The
``MergeRecord`` lists what the canonical item gained, so ``split_merge`` can take exactly that
back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alexandria.embeddings import similarity_threshold
from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.knowledge.models import KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.layers.merge_decision import merge_text
from alexandria.layers.merge_planning import MergeEntry, plan_merges
from alexandria.layers.models import MergeCheck, MergeRecord, MergeVerification
from alexandria.search.selectors import is_visible, visible_items
from alexandria.search.vector_index import VectorIndex
from jobkinds import verify_merge

logger = logging.getLogger(__name__)


@dataclass
class MergeRunReport:
    layer: int
    checked: int = 0
    merged: int = 0
    verifications: int = 0
    vetoed: dict[str, int] = field(default_factory=dict)


def _lock(*item_ids: int) -> dict[int, KnowledgeItem]:
    return {
        item.pk: item
        for item in KnowledgeItem.objects.select_for_update().filter(pk__in=item_ids).order_by("pk")
    }


def merge_items(
    canonical_id: int,
    item_id: int,
    *,
    similarity: float,
    method: str,
    job: Job | None = None,
) -> MergeRecord | None:
    """Merge ``item`` into ``canonical``; None when either is no longer a visible canonical
    item of the same kind and layer. Items merged into ``item`` itself are split off and
    checked again: an item joins a cluster only through its canonical item."""
    with transaction.atomic():
        locked = _lock(canonical_id, item_id)
        canonical, item = locked.get(canonical_id), locked.get(item_id)
        if canonical is None or item is None or canonical_id == item_id:
            return None
        if not (is_visible(canonical) and is_visible(item)):
            return None
        if (canonical.kind, canonical.layer) != (item.kind, item.layer):
            return None
        for absorbed in MergeRecord.objects.filter(canonical=item, split_at__isnull=True):
            split_merge(absorbed, reason=f"item {item_id} merged into {canonical_id}", recheck=True)
        added_anchors = set(item.anchors.values_list("pk", flat=True)) - set(
            canonical.anchors.values_list("pk", flat=True)
        )
        added_derived = (
            set(item.derived_from.values_list("pk", flat=True))
            - set(canonical.derived_from.values_list("pk", flat=True))
            - {canonical_id}
        )
        canonical.anchors.add(*added_anchors)
        canonical.derived_from.add(*added_derived)
        item.merged_into = canonical
        item.save(update_fields=["merged_into", "updated_at"])
        record = MergeRecord.objects.create(
            canonical=canonical, merged=item, similarity=similarity, method=method, job=job
        )
        record.added_anchors.set(added_anchors)
        record.added_derived_from.set(added_derived)
        MergeCheck.objects.get_or_create(item=item)
        reindex_items_after_commit([canonical_id, item_id])
    return record


def split_merge(record: MergeRecord, *, reason: str, recheck: bool = False) -> bool:
    """Undo a merge: the item stands on its own again and the canonical item loses what the
    merge added (unless another item still merged into it brings the same). With ``recheck``
    the item is compared with its layer again; otherwise it stays apart. False when the
    record was already split."""
    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        if record.split_at is not None:
            return False
        locked = _lock(record.canonical_id, record.merged_id)
        canonical, item = locked[record.canonical_id], locked[record.merged_id]
        others = MergeRecord.objects.filter(canonical=canonical, split_at__isnull=True).exclude(
            pk=record.pk
        )
        still_anchored = set(
            KnowledgeItem.anchors.through.objects.filter(
                knowledgeitem_id__in=others.values("merged_id")
            ).values_list("anchor_id", flat=True)
        )
        still_derived = set(
            KnowledgeItem.derived_from.through.objects.filter(
                from_knowledgeitem_id__in=others.values("merged_id")
            ).values_list("to_knowledgeitem_id", flat=True)
        )
        canonical.anchors.remove(
            *(set(record.added_anchors.values_list("pk", flat=True)) - still_anchored)
        )
        canonical.derived_from.remove(
            *(set(record.added_derived_from.values_list("pk", flat=True)) - still_derived)
        )
        item.merged_into = None
        item.save(update_fields=["merged_into", "updated_at"])
        record.split_at = timezone.now()
        record.split_reason = reason
        record.save(update_fields=["split_at", "split_reason"])
        if recheck:
            MergeCheck.objects.filter(item=item).delete()
        reindex_items_after_commit([canonical.pk, item.pk])
    return True


def request_verification(canonical_id: int, candidate_id: int, similarity: float) -> bool:
    """Ask volunteers whether the pair means the same (an instruction shown with its steps);
    False when it was asked before."""
    if MergeVerification.objects.filter(
        canonical_id=canonical_id, candidate_id=candidate_id
    ).exists():
        return False
    texts = {
        item.pk: merge_text(item.kind, item.text, item.details)
        for item in KnowledgeItem.objects.filter(pk__in=[canonical_id, candidate_id])
    }
    payload = {
        "prompt_version": verify_merge.PROMPT_VERSION,
        "first": {"id": canonical_id, "text": texts[canonical_id][: verify_merge.TEXT_MAX_CHARS]},
        "second": {"id": candidate_id, "text": texts[candidate_id][: verify_merge.TEXT_MAX_CHARS]},
    }
    job = create_job(verify_merge.KIND.name, payload)
    MergeVerification.objects.create(
        canonical_id=canonical_id, candidate_id=candidate_id, similarity=similarity, job=job
    )
    return True


def apply_verification(job: Job, *, same_meaning: bool, reason: str) -> MergeRecord | None:
    """Record the vote; a "same meaning" verdict merges the pair (if both are still there)."""
    verification = MergeVerification.objects.get(job=job)
    verification.same_meaning = same_meaning
    verification.reason = reason
    verification.decided_at = timezone.now()
    verification.save(update_fields=["same_meaning", "reason", "decided_at"])
    if not same_meaning:
        return None
    return merge_items(
        verification.canonical_id,
        verification.candidate_id,
        similarity=verification.similarity,
        method=MergeRecord.Method.LLM,
        job=job,
    )


def run_merge(
    layer: int, *, limit: int | None = None, index: VectorIndex | None = None
) -> MergeRunReport:
    """Compare the layer's unchecked items with each other and with their nearest settled
    canonical items in the index; merge, vote or keep them (see ``merge_planning``)."""
    limit = limit or settings.MERGE_BATCH_SIZE
    report = MergeRunReport(layer=layer)
    batch = list(
        visible_items()
        .filter(layer=layer, merge_check__isnull=True)
        .order_by("pk")
        .only("id", "kind", "text", "details", "layer", "status", "merged_into")[:limit]
    )
    if not batch:
        return report
    index = index or VectorIndex()
    # The index holds vectors of item.text: neighbours are found with those; pairs are then
    # compared by their merge texts (an instruction's goal and steps).
    new_vectors = index.embedder.embed_texts([item.text for item in batch])
    batch_ids = {item.pk for item in batch}
    neighbour_ids: set[int] = set()
    if layer in index.layers():
        for hits in index.query(layer, new_vectors, settings.MERGE_NEIGHBOURS):
            neighbour_ids.update(hit.id for hit in hits if hit.id not in batch_ids)
    settled = list(
        visible_items()
        .filter(pk__in=neighbour_ids, merge_check__isnull=False)
        .order_by("pk")
        .only("id", "kind", "text", "details")
    )
    vectors = dict(zip([item.pk for item in batch], new_vectors, strict=True))
    vectors.update(index.vectors(layer, [item.pk for item in settled]))
    texts = {item.pk: merge_text(item.kind, item.text, item.details) for item in settled + batch}
    stale = [
        item.pk for item in settled + batch if item.pk not in vectors or texts[item.pk] != item.text
    ]
    if stale:
        vectors.update(
            zip(stale, index.embedder.embed_texts([texts[pk] for pk in stale]), strict=True)
        )
    entries = [MergeEntry(item.pk, item.kind, texts[item.pk], fixed=True) for item in settled] + [
        MergeEntry(item.pk, item.kind, texts[item.pk]) for item in batch
    ]
    plan = plan_merges(
        entries,
        np.vstack([vectors[entry.id] for entry in entries]),
        recall=similarity_threshold("MERGE_RECALL_THRESHOLD"),
    )
    with transaction.atomic():
        for pair in plan.merges:
            if merge_items(
                pair.canonical_id,
                pair.item_id,
                similarity=pair.similarity,
                method=MergeRecord.Method.GUARD,
            ):
                report.merged += 1
        for pair in plan.verifications:
            if request_verification(pair.canonical_id, pair.item_id, pair.similarity):
                report.verifications += 1
        MergeCheck.objects.bulk_create(
            [MergeCheck(item_id=item_id) for item_id in batch_ids], ignore_conflicts=True
        )
    report.checked = len(batch)
    report.vetoed = plan.vetoed
    logger.info("merge run on layer %s: %s", layer, report)
    return report


def layers_awaiting_merge() -> list[int]:
    return sorted(
        set(
            visible_items()
            .filter(merge_check__isnull=True)
            .values_list("layer", flat=True)
            .distinct()
        )
    )
