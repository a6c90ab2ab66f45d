"""A node's calls on a lease it holds, other than handing its output in: heartbeats that
keep the lease alive, and giving the job up (failed, or released on shutdown)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alexandria.jobs.errors import LeaseConflict, LeaseNotFound
from alexandria.jobs.models import Job, JobEvent, Lease, WorkerNode
from alexandria.jobs.services import churn
from alexandria.jobs.services.leasing import lease_seconds
from alexandria.jobs.services.lifecycle import dead_letter_jobs, end_leases, lock_jobs, requeue_jobs
from alexandria.sources.fingerprints import copied_runs


def _node_lease(node: WorkerNode, lease_id) -> Lease:
    lease = Lease.objects.select_related("job").filter(pk=lease_id, node=node).first()
    if lease is None:
        raise LeaseNotFound("No such lease.")
    return lease


def _lock_lease_job(lease: Lease) -> Job:
    """Lock the lease's job (and its primary, for a replica), then re-read the lease."""
    ids = (
        [lease.job_id]
        if lease.job.replica_of_id is None
        else [lease.job.replica_of_id, lease.job_id]
    )
    locked = {job.pk: job for job in lock_jobs(ids)}
    lease.refresh_from_db(fields=["state", "expires_at"])
    return locked[lease.job_id]


# Why a lease no longer lets its node act, by the state it ended in.
LEASE_ENDED = {
    Lease.State.SUBMITTED: "A result was already submitted for this lease.",
    Lease.State.EXPIRED: "The lease expired and the job was handed to another node.",
    Lease.State.RELEASED: "This lease was released.",
    Lease.State.FAILED: "This lease was reported failed.",
    Lease.State.CANCELLED: "The job was cancelled by a moderator.",
}


@dataclass(frozen=True)
class Heartbeat:
    lease_id: Any
    expires_at: datetime
    cancelled: bool


def heartbeat(node: WorkerNode, lease_id) -> Heartbeat:
    """Extend an active lease by its job's time-to-live; say so when the job was cancelled."""
    lease = _node_lease(node, lease_id)
    with transaction.atomic():
        job = _lock_lease_job(lease)
        if lease.state == Lease.State.CANCELLED:
            return Heartbeat(lease.pk, lease.expires_at, cancelled=True)
        if lease.state != Lease.State.ACTIVE:
            raise LeaseConflict(LEASE_ENDED[lease.state])
        expires_at = timezone.now() + timedelta(seconds=lease_seconds(job.size_hint))
        Lease.objects.filter(pk=lease.pk).update(expires_at=expires_at)
        Job.objects.filter(pk=job.pk).update(lease_expires_at=expires_at)
    return Heartbeat(lease.pk, expires_at, cancelled=False)


WITHHELD = "the node's message repeated the source text and was withheld (copyright gate)"


def node_message(source_id: int | None, error: str) -> str:
    """Words a node sent, as the event log stores them: never a run of the job's source text,
    which a node's message (or an exception or schema error quoting the payload or output)
    would otherwise carry past the purge."""
    if source_id and copied_runs([error], [source_id]):
        return WITHHELD
    return error


@dataclass(frozen=True)
class FailOutcome:
    job_status: str
    attempts: int


def fail_lease(node: WorkerNode, lease_id, *, error: str, release: bool) -> FailOutcome:
    """The node gives the job up: ``release`` (shutting down, its model unavailable) costs no
    attempt but counts against a churning node (``churn``); a failure costs an attempt, and
    the job is dead-lettered when its attempts are spent."""
    lease = _node_lease(node, lease_id)
    now = timezone.now()
    with transaction.atomic():
        job = _lock_lease_job(lease)
        if lease.state != Lease.State.ACTIVE:
            raise LeaseConflict(LEASE_ENDED[lease.state])
        end_leases([job], Lease.State.RELEASED if release else Lease.State.FAILED, now)
        error = node_message(job.source_id, error)
        if release:
            JobEvent.objects.create(job=job, node=node, kind=JobEvent.Kind.RELEASED, message=error)
            requeue_jobs([job], now)
            churn.record_release(node, job, now)
            return FailOutcome(Job.Status.QUEUED, job.attempts)
        job.attempts += 1
        Job.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)
        JobEvent.objects.create(job=job, node=node, kind=JobEvent.Kind.ERROR, message=error)
        if job.attempts >= job.max_attempts:
            dead_letter_jobs([job], now)
            return FailOutcome(Job.Status.FAILED, job.attempts)
        requeue_jobs([job], now)
        return FailOutcome(Job.Status.QUEUED, job.attempts)
