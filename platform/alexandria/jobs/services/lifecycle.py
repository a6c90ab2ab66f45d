"""The job lifecycle: create, cancel and requeue jobs, and the row updates that end leases
and move locked jobs back to the queue or to the dead letters."""

import json
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alexandria.core.tasking import Task, enqueue
from alexandria.jobs.errors import InvalidInput
from alexandria.jobs.models import Job, JobEvent, JobResult, Lease
from alexandria.jobs.services import payloads
from alexandria.sources.models import Source
from jobkinds import UnknownKindError, get_kind

MAX_PRIORITY = 32767
OUTSTANDING = (Job.Status.QUEUED, Job.Status.LEASED, Job.Status.VALIDATING)
FINISHED = (Job.Status.DONE, Job.Status.FAILED, Job.Status.CANCELLED)
# Marks a result's output as trimmed for copyright retention; the value says how.
TRIMMED = "$trimmed"
# What a result of a job about a source keeps when the job is cancelled before validation.
UNCHECKED_OUTPUT = {TRIMMED: "dropped: never validated (the job was cancelled)"}


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value, so equal outputs hash equal however they were sent."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def create_job(
    kind: str,
    payload: dict,
    *,
    source: Source | None = None,
    priority: int = 0,
    size_hint: int | None = None,
) -> Job:
    """Queue a job after checking its payload against the kind's input schema.

    A payload that quotes ``source`` gives spans of its text (``payloads.span``) and
    stand-ins for its images (``payloads.image``) instead of copies: the schema is checked on
    the payload as a node will read it, hydrated from what the source still holds, and the job
    stores the stand-ins (see ``payloads``).
    """
    try:
        job_kind = get_kind(kind)
    except UnknownKindError as exc:
        raise InvalidInput(f"Unknown job kind {kind!r}.") from exc
    stored = node_payload = payload
    if any(payloads.spans_in(payload)) or any(payloads.images_in(payload)):
        node_payload = _hydrated_at_creation(payload, source)
        stored = payloads.stored_form(payload, source.pk)
    errors = job_kind.input_errors(node_payload)
    if errors:
        raise InvalidInput(f"The payload does not match {kind}'s input schema.", errors)
    return Job.objects.create(
        kind=kind,
        kind_version=job_kind.version,
        payload=stored,
        source=source,
        priority=priority,
        size_hint=len(canonical_json(node_payload)) if size_hint is None else size_hint,
    )


def _hydrated_at_creation(payload: dict, source: Source | None) -> dict:
    if source is None:
        raise InvalidInput("A payload with spans of a source text needs its source.")
    if source.is_purged:
        raise InvalidInput(f"The text of source {source.pk} has been purged.")
    errors = payloads.check_spans(payload, len(source.text))
    if errors:
        raise InvalidInput("The payload's spans do not fit its source.", errors)
    hydrated = payloads.hydrate(payload, source.text)
    wanted = set(payloads.images_in(payload))
    if not wanted:
        return hydrated
    images = payloads.read_images(wanted)
    if missing := sorted(wanted - set(images)):
        raise InvalidInput(f"The images {missing} of source {source.pk} are not kept.")
    return payloads.with_images(hydrated, images)


def cancel_job(job: Job, *, reason: str = "") -> bool:
    """Stop a job (and its replicas); its node learns it at the next heartbeat."""
    now = timezone.now()
    with transaction.atomic():
        jobs = lock_jobs(
            [job.pk, *job.replicas.filter(status__in=OUTSTANDING).values_list("pk", flat=True)]
        )
        targets = [locked for locked in jobs if locked.status in OUTSTANDING]
        if not any(locked.pk == job.pk for locked in targets):
            return False
        _cancel_locked(targets, reason, now)
        if job.replica_of_id is not None:
            _resolve_replication_on_commit(job.replica_of_id)
    job.refresh_from_db()
    return True


def cancel_source_jobs(source_ids: list[int], *, reason: str) -> int:
    """Cancel every outstanding job of these sources (replicas included): their text is going,
    or gone, and no result could be checked against it any more. How many were cancelled.

    Whatever removes the text of a source under analysis calls this first (a takedown);
    leasing calls it for a source it finds purged."""
    now = timezone.now()
    with transaction.atomic():
        outstanding = Job.objects.filter(source_id__in=source_ids, status__in=OUTSTANDING)
        jobs = lock_jobs(list(outstanding.values_list("pk", flat=True)))
        targets = [locked for locked in jobs if locked.status in OUTSTANDING]
        _cancel_locked(targets, reason, now)
    return len(targets)


def _cancel_locked(targets: list[Job], reason: str, now: datetime) -> None:
    """Cancel locked outstanding jobs. Their pending results are set aside unvalidated, and
    those of jobs about a source keep no output: nothing has trimmed what they quote of it."""
    end_leases(targets, Lease.State.CANCELLED, now)
    pending = JobResult.objects.filter(job__in=targets, status=JobResult.Status.PENDING)
    pending.filter(job__source__isnull=False).update(output=UNCHECKED_OUTPUT)
    pending.update(
        status=JobResult.Status.SUPERSEDED,
        rejection_reasons=["the job was cancelled"],
        validated_at=now,
    )
    Job.objects.filter(pk__in=[t.pk for t in targets]).update(
        status=Job.Status.CANCELLED,
        lease_owner=None,
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    )
    JobEvent.objects.bulk_create(
        JobEvent(job=t, kind=JobEvent.Kind.CANCELLED, message=reason) for t in targets
    )


def requeue_job(job: Job, *, reason: str = "") -> bool:
    """Give a failed or cancelled job a fresh start (attempts reset; old results set aside).
    A job that quotes a source whose text was purged can't run again: it stays as it is."""
    now = timezone.now()
    with transaction.atomic():
        (locked,) = lock_jobs([job.pk])
        if locked.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
            return False
        if _needs_purged_text(locked):
            return False
        if locked.source_id is None and not locked.payload:
            # A takedown removed its source and payload: there is nothing left to run.
            return False
        # Earlier replicas and their results no longer count towards this job's quorum.
        set_aside = locked.replicas.exclude(status=Job.Status.CANCELLED).update(
            status=Job.Status.CANCELLED, finished_at=now, updated_at=now
        )
        JobResult.objects.filter(
            Q(job=locked) | Q(job__replica_of=locked), status=JobResult.Status.VALID
        ).update(status=JobResult.Status.SUPERSEDED)
        Job.objects.filter(pk=locked.pk).update(
            status=Job.Status.QUEUED,
            attempts=0,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=None,
            updated_at=now,
        )
        message = reason or "requeued by a moderator"
        if set_aside:
            message += f" ({set_aside} earlier replicas set aside)"
        JobEvent.objects.create(job=locked, kind=JobEvent.Kind.REQUEUED, message=message)
    job.refresh_from_db()
    return True


def _needs_purged_text(job: Job) -> bool:
    """Whether the job's payload quotes a source whose text is gone (it can't run again)."""
    return (
        payloads.SPANS_OF in job.payload
        and Source.objects.filter(
            pk=job.payload[payloads.SPANS_OF], text_purged_at__isnull=False
        ).exists()
    )


def end_leases(jobs: list[Job], state: str, now: datetime) -> None:
    if jobs:
        Lease.objects.filter(job__in=[job.pk for job in jobs], state=Lease.State.ACTIVE).update(
            state=state, ended_at=now
        )


def requeue_jobs(jobs: list[Job], now: datetime) -> None:
    if jobs:
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
            status=Job.Status.QUEUED, lease_owner=None, lease_expires_at=None, updated_at=now
        )


def dead_letter_jobs(jobs: list[Job], now: datetime) -> None:
    """Fail jobs that used up their attempts; their JobEvents hold the error history."""
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
        status=Job.Status.FAILED,
        lease_owner=None,
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    )
    JobEvent.objects.bulk_create(
        JobEvent(
            job=job,
            kind=JobEvent.Kind.DEAD_LETTERED,
            message=f"failed after {job.attempts} attempts; see the earlier events",
        )
        for job in jobs
    )
    for job in jobs:
        job.status = Job.Status.FAILED
        if job.replica_of_id is not None:
            _resolve_replication_on_commit(job.replica_of_id)


def _resolve_replication_on_commit(primary_id: int) -> None:
    """A replica finished without a usable result: the primary needs another or a verdict."""
    enqueue(Task.RESOLVE_REPLICATION, primary_id)


def lock_jobs(job_ids: list[int]) -> list[Job]:
    """Lock jobs in id order (a primary's id is below its replicas', so primaries go first)."""
    return list(Job.objects.select_for_update().filter(pk__in=job_ids).order_by("id"))
