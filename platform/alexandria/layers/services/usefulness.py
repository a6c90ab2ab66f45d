"""The stop criteria judged on what a layer produced: a judge_usefulness job per composition.

New items wait for their verdict before they are abstracted further; useless ones are rejected.
Each layer build counts its new items, those judged useful or useless and those dropped as
restatements; ``stop_reason`` says when those counts end the layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.knowledge.models import KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.layers.models import LayerBuild, NodeAbstraction, UsefulnessVerdict
from jobkinds import judge_usefulness

USELESS_PREFIX = "judged useless: "


def _clip(text: str) -> str:
    return text[: judge_usefulness.TEXT_MAX_CHARS]


def queue_judgement(
    run: NodeAbstraction, created: Sequence[KnowledgeItem], combined_texts: dict[int, str]
) -> Job:
    """One judge_usefulness job on the items a composition created, each with the texts of
    the items it combines; every item waits for its verdict."""
    items = []
    for item in created:
        combined = item.derived_from.values_list("pk", flat=True).order_by("pk")
        entry: dict[str, Any] = {
            "id": item.pk,
            "kind": item.kind,
            "text": _clip(item.text),
            "combines": [
                {"id": pk, "text": _clip(combined_texts[pk])}
                for pk in combined
                if combined_texts.get(pk)
            ],
        }
        if item.kind == KnowledgeItem.Kind.INSTRUCTION and item.details.get("steps"):
            entry["steps"] = [_clip(step) for step in item.details["steps"] if step]
        items.append(entry)
    payload = {
        "prompt_version": judge_usefulness.PROMPT_VERSION,
        "layer": run.layer + 1,
        "items": items,
    }
    job = create_job(judge_usefulness.KIND.name, payload)
    UsefulnessVerdict.objects.bulk_create(UsefulnessVerdict(item=item, run=run) for item in created)
    run.judge_job = job
    run.save(update_fields=["judge_job", "updated_at"])
    return job


def verdict_errors(job: Job, output: dict[str, Any]) -> list[str]:
    """What makes a judge's output unusable: no run behind the job, or not exactly one verdict
    per judged item."""
    if not NodeAbstraction.objects.filter(judge_job=job.replica_of_id or job.pk).exists():
        return ["the job belongs to no composition"]
    wanted = [item["id"] for item in job.payload["items"]]
    given = [verdict["id"] for verdict in output["verdicts"]]
    errors = []
    if unknown := sorted(set(given) - set(wanted)):
        errors.append(f"verdicts on items that were not judged: {unknown[:10]}")
    if missing := sorted(set(wanted) - set(given)):
        errors.append(f"no verdict on items {missing[:10]}")
    if len(given) != len(set(given)):
        errors.append("more than one verdict on an item")
    return errors


def record_verdicts(job: Job, output: dict[str, Any]) -> LayerBuild:
    """Store the verdicts; reject the useless items still pending (a member's review that
    already accepted one stands) and count both on the layer's build."""
    run = NodeAbstraction.objects.get(judge_job=job)
    now = timezone.now()
    verdicts = {verdict["id"]: verdict for verdict in output["verdicts"]}
    waiting = UsefulnessVerdict.objects.select_for_update().filter(
        run=run, item_id__in=verdicts, useful__isnull=True
    )
    useful = useless = 0
    rejected: list[int] = []
    for record in waiting:
        verdict = verdicts[record.item_id]
        record.useful, record.reason, record.decided_at = verdict["useful"], verdict["reason"], now
        record.save(update_fields=["useful", "reason", "decided_at"])
        if verdict["useful"]:
            useful += 1
            continue
        useless += 1
        reason = f"{USELESS_PREFIX}{verdict['reason'].strip() or 'no reason given'}"
        if KnowledgeItem.objects.filter(
            pk=record.item_id, status=KnowledgeItem.Status.PENDING
        ).update(status=KnowledgeItem.Status.REJECTED, hidden_reason=reason, updated_at=now):
            rejected.append(record.item_id)
    reindex_items_after_commit(rejected)
    build, _ = LayerBuild.objects.get_or_create(layer=run.layer + 1)
    LayerBuild.objects.filter(pk=build.pk).update(
        judged_useful=F("judged_useful") + useful,
        judged_useless=F("judged_useless") + useless,
        updated_at=now,
    )
    build.refresh_from_db()
    return build


def count_composition(layer: int, *, created: int, dropped: int) -> LayerBuild:
    """Count a composition's new items and restatements on the build of ``layer``."""
    build, _ = LayerBuild.objects.get_or_create(layer=layer)
    LayerBuild.objects.filter(pk=build.pk).update(
        items_created=F("items_created") + created,
        dropped_not_novel=F("dropped_not_novel") + dropped,
        updated_at=timezone.now(),
    )
    build.refresh_from_db()
    return build


def stop_reason(build: LayerBuild) -> str:
    """Why the layer's new items end it (mostly useless, or mostly restatements), or ''."""
    minimum = settings.LAYER_STOP_MIN_JUDGED
    judged = build.judged_useful + build.judged_useless
    if judged >= minimum and build.judged_useless > settings.LAYER_STOP_USELESS_SHARE * judged:
        return (
            f"{build.judged_useless} of {judged} judged new items of layer {build.layer} were "
            "judged useless"
        )
    proposed = build.items_created + build.dropped_not_novel
    if (
        proposed >= minimum
        and build.dropped_not_novel > settings.LAYER_STOP_RESTATED_SHARE * proposed
    ):
        return (
            f"{build.dropped_not_novel} of {proposed} new items proposed for layer {build.layer} "
            "were too similar to the items they combine"
        )
    return ""
