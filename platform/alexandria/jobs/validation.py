"""Validation of submitted results, adaptive replication, trust and credit (BOINC style).

A valid result of an untrusted or flagged node (or a random sample of trusted ones) is not
used until another contributor's node re-ran the job and the two agree. Once a job is decided
(or a result rejected) its results keep only their trimmed outputs (``_trim``). Everything
here runs under the lock of the job group's primary, and re-running any step is harmless: a
result is validated once, a job is applied once, and credit is unique per (job, node) in the
database.
"""

import random

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alexandria.jobs.handlers import ResultHandler, ValidationReport, get_handler
from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.services.lifecycle import (
    MAX_PRIORITY,
    OUTSTANDING,
    dead_letter_jobs,
    end_leases,
    lock_jobs,
    requeue_jobs,
)
from alexandria.jobs.services.nodes import lower_trust, raise_trust


def validate_result(result_id: int) -> None:
    """Check a pending result with its kind's handler and move its job on."""
    result = JobResult.objects.select_related("job").get(pk=result_id)
    if result.status != JobResult.Status.PENDING:
        return
    handler = get_handler(result.job.kind)
    # Outside the lock: semantic checks may be slow (anchors located in the source text).
    report = handler.validate(result.job, result.output)
    primary_id = result.job.replica_of_id or result.job_id
    now = timezone.now()
    with transaction.atomic():
        locked = {job.pk: job for job in lock_jobs([primary_id, result.job_id])}
        result.refresh_from_db()
        if result.status != JobResult.Status.PENDING:
            return
        job = locked[result.job_id]
        if job.status != Job.Status.VALIDATING:
            _set_aside([result], f"the job was {job.status} before its result was validated")
            _trim(handler, job, [result])
            return
        if not report.is_valid:
            _reject(result, job, report)
            _trim(handler, job, [result])
            return
        result.status = JobResult.Status.VALID
        result.validated_at = now
        result.save(update_fields=["status", "validated_at"])
        WorkerNode.objects.filter(pk=result.node_id).update(
            valid_results=F("valid_results") + 1,
            rejected_facts=F("rejected_facts") + report.rejected_items,
        )
        primary = locked[primary_id]
        if job.pk == primary_id and not _needs_replication(result.node_id):
            _finalize(primary, handler, [result], CreditEntry.Basis.TRUSTED)
            return
        if job.pk != primary_id:
            # The replica's work is done; the group's verdict is the primary's to give.
            Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, finished_at=now)
            _record_dispute(primary, handler, result)
        advance_replication(primary, handler)


def resolve_replication(primary_id: int) -> None:
    """Re-evaluate a replicated job (after a replica failed, was cancelled or got lost)."""
    with transaction.atomic():
        locked = lock_jobs([primary_id])
        if locked and locked[0].replica_of_id is None:
            advance_replication(locked[0], get_handler(locked[0].kind))


def advance_replication(primary: Job, handler: ResultHandler) -> None:
    """With the primary locked: finalize on a quorum of two agreeing results, else ask for
    one more replica, or fail the job once MAX_REPLICAS replicas could not settle it."""
    if primary.status != Job.Status.VALIDATING:
        return
    results = list(_group_results(primary).filter(status=JobResult.Status.VALID).order_by("id"))
    for candidate in results:
        agreeing = [candidate] + [
            other
            for other in results
            if other is not candidate and handler.agree(candidate.output, other.output)
        ]
        if len(agreeing) >= 2:
            _finalize(primary, handler, agreeing, CreditEntry.Basis.AGREED)
            return
    replicas = primary.replicas.exclude(status=Job.Status.CANCELLED)
    if replicas.filter(status__in=OUTSTANDING).exists():
        return
    used = replicas.count()
    if used < settings.MAX_REPLICAS:
        Job.objects.create(
            kind=primary.kind,
            kind_version=primary.kind_version,
            payload=primary.payload,
            source_id=primary.source_id,
            priority=min(primary.priority + 1, MAX_PRIORITY),
            size_hint=primary.size_hint,
            max_attempts=primary.max_attempts,
            replica_of=primary,
        )
        return
    reason = (
        f"no two results agreed after {used} replicas"
        if results
        else f"no valid result after {used} replicas"
    )
    _fail_group(primary, handler, reason)


def _needs_replication(node_id: int) -> bool:
    node = WorkerNode.objects.only("trust", "is_flagged").get(pk=node_id)
    return (
        node.is_flagged
        or node.trust < settings.TRUST_THRESHOLD
        or random.random() < settings.REPLICATION_SAMPLE_RATE
    )


def _group_results(primary: Job):
    return JobResult.objects.filter(Q(job=primary) | Q(job__replica_of=primary))


def _record_dispute(primary: Job, handler: ResultHandler, result: JobResult) -> None:
    """A replica's result that agrees with none of the group's results lowers the trust of
    every node involved; a later replica decides who was right."""
    others = list(
        _group_results(primary).filter(status=JobResult.Status.VALID).exclude(pk=result.pk)
    )
    if others and not any(handler.agree(other.output, result.output) for other in others):
        lower_trust([result.node_id, *(other.node_id for other in others)])


def _reject(result: JobResult, job: Job, report: ValidationReport) -> None:
    """Invalid result: recorded against its node, and the job runs again (or is dead-lettered)."""
    now = timezone.now()
    result.status = JobResult.Status.INVALID
    result.rejection_reasons = report.reasons
    result.validated_at = now
    result.save(update_fields=["status", "rejection_reasons", "validated_at"])
    WorkerNode.objects.filter(pk=result.node_id).update(
        invalid_results=F("invalid_results") + 1,
        rejected_facts=F("rejected_facts") + report.rejected_items,
    )
    lower_trust([result.node_id])
    job.attempts += 1
    Job.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)
    JobEvent.objects.create(
        job=job,
        node_id=result.node_id,
        kind=JobEvent.Kind.INVALID,
        message="; ".join(report.reasons)[:4000],
    )
    if job.attempts >= job.max_attempts:
        dead_letter_jobs([job], now)
    else:
        requeue_jobs([job], now)


def _finalize(primary: Job, handler: ResultHandler, agreeing: list[JobResult], basis: str) -> None:
    """Apply the canonical (earliest agreeing) result once, close the group, credit the nodes
    whose results were used and move their trust."""
    now = timezone.now()
    canonical = agreeing[0]
    handler.apply(primary, canonical)
    group = [primary, *primary.replicas.exclude(status=Job.Status.CANCELLED)]
    unfinished = [job for job in group[1:] if job.status in (Job.Status.QUEUED, Job.Status.LEASED)]
    end_leases(unfinished, Lease.State.CANCELLED, now)
    Job.objects.filter(pk__in=[job.pk for job in unfinished]).update(
        status=Job.Status.CANCELLED, lease_owner=None, lease_expires_at=None, finished_at=now
    )
    Job.objects.filter(pk__in=[job.pk for job in group if job not in unfinished]).update(
        status=Job.Status.DONE, lease_owner=None, lease_expires_at=None, finished_at=now
    )
    used = {result.pk for result in agreeing}
    disagreeing = list(
        _group_results(primary).filter(status__in=["valid", "pending"]).exclude(pk__in=used)
    )
    _set_aside(disagreeing, "did not agree with the quorum")
    if basis == CreditEntry.Basis.AGREED:
        raise_trust([result.node_id for result in agreeing])
    others = len(agreeing) - 1
    owners = dict(
        WorkerNode.objects.filter(pk__in=[r.node_id for r in agreeing]).values_list("pk", "owner")
    )
    jobs = {job.pk: job for job in group}
    entries = []
    for result in agreeing:
        job = jobs[result.job_id]
        amount = handler.credit(job, result)
        if amount <= 0:
            continue
        what = f"{primary.kind} job #{primary.pk}"
        if job.pk != primary.pk:
            what += f" (replica #{job.pk})"
        why = (
            f"agreed with {others} other result{'s' if others > 1 else ''}"
            if basis == CreditEntry.Basis.AGREED
            else "trusted node, not replicated"
        )
        entries.append(
            CreditEntry(
                contributor_id=owners[result.node_id],
                node_id=result.node_id,
                job_id=job.pk,
                amount=amount,
                reason=f"{what} validated ({why})",
                basis=basis,
            )
        )
    CreditEntry.objects.bulk_create(entries, ignore_conflicts=True)
    primary.status = Job.Status.DONE
    _trim(handler, primary, [*agreeing, *disagreeing])


def _fail_group(primary: Job, handler: ResultHandler, reason: str) -> None:
    now = timezone.now()
    Job.objects.filter(pk=primary.pk).update(
        status=Job.Status.FAILED, finished_at=now, updated_at=now
    )
    primary.status = Job.Status.FAILED
    JobEvent.objects.create(job=primary, kind=JobEvent.Kind.DEAD_LETTERED, message=reason)
    valid = list(_group_results(primary).filter(status=JobResult.Status.VALID))
    _set_aside(valid, reason)
    _trim(handler, primary, valid)


def _set_aside(results: list[JobResult], reason: str) -> None:
    JobResult.objects.filter(pk__in=[result.pk for result in results]).update(
        status=JobResult.Status.SUPERSEDED,
        rejection_reasons=[reason],
        validated_at=timezone.now(),
    )


def _trim(handler: ResultHandler, job: Job, results: list[JobResult]) -> None:
    """Keep of these results' outputs only what their kind allows once they have served
    (``ResultHandler.trim``: nothing that quotes the source). Only decided results are
    trimmed: replication compares the outputs of valid results until the job is decided."""
    for result in results:
        trimmed = handler.trim(job, result.output)
        if trimmed is not result.output:
            result.output = trimmed
            JobResult.objects.filter(pk=result.pk).update(output=trimmed)
