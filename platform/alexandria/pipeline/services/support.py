"""Semantic support of layer-1 items: does the evidence an item cites back what it says?

Two steps, while the source still holds its text:

1. ``supporting_anchors`` (in ``derivation.check_derivation``): each cited anchor's span must
   share a content word with the item or reach ``SUPPORT_SIMILARITY_FLOOR``; the others are
   dropped from its citations, and an item left with none is rejected ``unsupported_evidence``.
   This spends no job on the obvious misfits.
2. ``plan_support``: every stored item gets one ``verify_support`` job whose payload names its
   claim and its anchors' spans (``$span`` placeholders: the node reads the text, the stored
   payload keeps offsets). The item is stored ``unverified`` and shown only once
   ``apply_verdict`` marks it ``supported``; "contradicts" or "unrelated" rejects it.

The jobs belong to the source, so its analysis is not finished (and its text not purged) before
they are decided (``planning.advance_source``); an item still unverified when the analysis ends
(its job failed) is rejected by ``reject_unverified``.
"""

from collections.abc import Iterable
from typing import Any

import numpy as np
from django.utils import timezone

from alexandria.embeddings import get_embedder, similarity_threshold
from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.payloads import span
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.sources.fingerprints import copy_reason, index_for_sources
from alexandria.sources.models import Source
from alexandria.textproc.item_quality import shared_content
from jobkinds import verify_support

UNSUPPORTED = "unsupported_evidence"
NEVER_VERIFIED = "its support was never verified (the verify_support job did not finish)"


def claim_text(kind: str, text: str, steps: Iterable[str] = ()) -> str:
    """What is checked against the evidence: the claim, or the goal followed by its steps."""
    steps = [step.strip() for step in steps if step.strip()]
    if kind == KnowledgeItem.Kind.INSTRUCTION and steps:
        return f"{text.strip()}: {'; '.join(steps)}"
    return text.strip()


def supporting_anchors(claim: str, anchors: list[Anchor], text: str) -> list[Anchor]:
    """The anchors whose span shares content with ``claim`` or is similar enough to it."""
    spans = [text[anchor.start : anchor.end] for anchor in anchors]
    kept = {i for i, quoted in enumerate(spans) if shared_content(claim, quoted)}
    rest = [i for i in range(len(anchors)) if i not in kept]
    if rest:
        vectors = get_embedder().embed_texts([claim, *(spans[i] for i in rest)])
        similarity = vectors[1:] @ vectors[0]
        floor = similarity_threshold("SUPPORT_SIMILARITY_FLOOR")
        kept.update(i for i, score in zip(rest, np.atleast_1d(similarity), strict=True)
                    if float(score) >= floor)  # fmt: skip
    return [anchor for i, anchor in enumerate(anchors) if i in kept]


def plan_support(item: KnowledgeItem, source: Source, *, priority: int = 0) -> Job:
    """Queue the item's verify_support job and mark the item unverified until it is decided."""
    anchors = sorted(item.anchors.all(), key=lambda a: (a.start, a.end))
    payload = {
        "prompt_version": verify_support.PROMPT_VERSION,
        "kind": item.kind,
        "claim": claim_text(item.kind, item.text, item.details.get("steps", ())),
        "evidence": [
            {"anchor_id": anchor.pk, "span": span(anchor.start, anchor.end)}
            for anchor in anchors[: verify_support.MAX_EVIDENCE]
        ],
    }
    job = create_job(verify_support.KIND.name, payload, source=source, priority=priority)
    item.support = KnowledgeItem.Support.UNVERIFIED
    item.support_job = job
    item.save(update_fields=["support", "support_job", "updated_at"])
    return job


def item_of(job: Job, *, lock: bool = False) -> KnowledgeItem | None:
    """The item a verify_support job (or one of its replicas) judges; locked to change it."""
    items = KnowledgeItem.objects.select_for_update() if lock else KnowledgeItem.objects
    return items.filter(support_job_id=job.replica_of_id or job.pk).first()


def _stored_reason(reason: str, source_id: int) -> str:
    """The node's reason as it may be stored: withheld when it repeats the source."""
    runs = index_for_sources([source_id]).copied_runs(reason)
    return f"details withheld: {copy_reason(runs)}" if runs else reason.strip()


def apply_verdict(job: Job, output: dict[str, Any]) -> KnowledgeItem | None:
    """A "supports" verdict makes the item supported (shown); any other rejects it."""
    item = item_of(job, lock=True)
    if item is None or item.support != KnowledgeItem.Support.UNVERIFIED:
        return item
    verdict = output["verdict"]
    if verdict == "supports":
        item.support = KnowledgeItem.Support.SUPPORTED
        item.save(update_fields=["support", "updated_at"])
    else:
        reason = _stored_reason(output["reason"], job.source_id)
        item.support = KnowledgeItem.Support.UNSUPPORTED
        item.status = KnowledgeItem.Status.REJECTED
        item.hidden_reason = f"verify_support: the evidence is {verdict}: {reason}"
        item.save(update_fields=["support", "status", "hidden_reason", "updated_at"])
    reindex_items_after_commit([item.pk])
    return item


def reject_unverified(source: Source) -> int:
    """Reject the source's items whose support was never decided; how many."""
    items = KnowledgeItem.objects.filter(
        job__source=source, support=KnowledgeItem.Support.UNVERIFIED
    )
    ids = list(items.values_list("pk", flat=True))
    KnowledgeItem.objects.filter(pk__in=ids).update(
        support=KnowledgeItem.Support.UNSUPPORTED,
        status=KnowledgeItem.Status.REJECTED,
        hidden_reason=NEVER_VERIFIED,
        updated_at=timezone.now(),
    )
    reindex_items_after_commit(ids)
    return len(ids)
