"""Leasing jobs to nodes, and the one place that picks how node calls reach the database.

On PostgreSQL the job protocol's hot steps (the node lookup of every call, leasing, locking
a node's leases, storing results) run ``pg_queue``'s hand-written statements; elsewhere, and
where those statements step aside (overdue leases wait), the portable ORM path here runs the
same rules. Every other module asks this one rather than choosing for itself. Whichever path
leased them, the leases go out with the payloads nodes read (``payloads``: a stored payload
refers to spans of its source's text, which go in here).
"""

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from alexandria.jobs import pg_queue
from alexandria.jobs.models import Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.services import churn, payloads
from alexandria.jobs.services.lifecycle import (
    cancel_source_jobs,
    dead_letter_jobs,
    end_leases,
    lock_jobs,
    requeue_jobs,
)

# The hand-written PostgreSQL statements of the lease and submit paths (pg_queue); tests turn
# this off to run the same rules through the portable ORM path on PostgreSQL too.
USE_PG_QUEUE = True


def _use_pg_queue() -> bool:
    return USE_PG_QUEUE and connection.vendor == "postgresql"


def lease_seconds(size_hint: int) -> int:
    """Lease time-to-live: a minimum plus time proportional to the job's input size."""
    return min(
        settings.LEASE_MAX_SECONDS,
        settings.LEASE_MIN_SECONDS + size_hint // settings.LEASE_CHARS_PER_SECOND,
    )


@dataclass(frozen=True)
class GrantedLease:
    lease_id: uuid.UUID
    job_id: int
    kind: str
    kind_version: str
    payload: dict
    expires_at: datetime
    seconds: int


def lease_jobs(
    node: WorkerNode, *, max_jobs: int, kinds: list[str] | None = None
) -> list[GrantedLease]:
    """Hand up to ``max_jobs`` jobs to ``node``: overdue leases first, then the queue by
    priority. Expired leases are taken over here, so leasing never waits for a sweeper."""
    now = timezone.now()
    paused = churn.pause_of(node, now)
    if paused is not None and max_jobs >= 1:
        raise paused
    allowed = _kinds_to_lease(node, kinds, max_jobs)
    if not allowed:
        return []
    if _use_pg_queue():
        rows = pg_queue.lease_queued(node, allowed, max_jobs, now)
        if rows is not None:
            return _with_texts([GrantedLease(*row) for row in rows])
    return _with_texts(_lease_jobs_orm(node, allowed, max_jobs, now))


def _with_texts(granted: list[GrantedLease]) -> list[GrantedLease]:
    """The leases with the payloads nodes read: spans of a source's text hydrated, in one query
    (none when no payload has spans), and its figures' images, in one more (only for payloads
    that list any). A job whose source's text or image is gone is not handed out: it and the
    source's other outstanding jobs are cancelled, saying why."""
    if not any(payloads.SPANS_OF in grant.payload for grant in granted):
        return granted
    hydrated = list(
        zip(granted, payloads.hydrate_payloads([g.payload for g in granted]), strict=True)
    )
    gone = sorted({grant.payload[payloads.SPANS_OF] for grant, given in hydrated if given is None})
    if gone:
        cancel_source_jobs(gone, reason=f"the text of source(s) {gone} was purged before it ran")
    return [replace(grant, payload=payload) for grant, payload in hydrated if payload is not None]


def _kinds_to_lease(node: WorkerNode, kinds: list[str] | None, max_jobs: int) -> list[str]:
    """The kinds a lease of ``max_jobs`` may hand out: the node's, narrowed to ``kinds``."""
    allowed = set(node.capabilities.get("kinds", []))
    if kinds is not None:
        allowed &= set(kinds)
    return sorted(allowed) if max_jobs >= 1 else []


def _lease_jobs_orm(
    node: WorkerNode, kinds: list[str], max_jobs: int, now: datetime
) -> list[GrantedLease]:
    """The general lease path: takes overdue leases over, then queued jobs (PostgreSQL runs it
    when overdue leases wait; SQLite always)."""
    candidates = (
        _leasable_by(node, kinds)
        .only(
            "id",
            "kind",
            "kind_version",
            "payload",
            "size_hint",
            "attempts",
            "max_attempts",
            "lease_owner_id",
            "replica_of_id",
        )
        .order_by("-priority", "id")
    )
    with transaction.atomic(savepoint=False):  # inside exchange(), no savepoint round trips
        overdue = list(
            candidates.filter(status=Job.Status.LEASED, lease_expires_at__lt=now).select_for_update(
                skip_locked=True
            )[:max_jobs]
        )
        jobs = _expire(overdue, now) if overdue else []
        if len(jobs) < max_jobs:
            jobs += list(
                candidates.filter(status=Job.Status.QUEUED).select_for_update(skip_locked=True)[
                    : max_jobs - len(jobs)
                ]
            )
        if not jobs:
            return []
        leases = []
        for job in jobs:
            job.lease_expires_at = now + timedelta(seconds=lease_seconds(job.size_hint))
            leases.append(Lease(job=job, node=node, expires_at=job.lease_expires_at, leased_at=now))
        expiries = {job.lease_expires_at for job in jobs}
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
            status=Job.Status.LEASED,
            lease_owner=node,
            updated_at=now,
            lease_expires_at=(
                expiries.pop()
                if len(expiries) == 1
                else Case(*(When(pk=job.pk, then=Value(job.lease_expires_at)) for job in jobs))
            ),
        )
        Lease.objects.bulk_create(leases)
    return [
        GrantedLease(
            lease_id=lease.pk,
            job_id=job.pk,
            kind=job.kind,
            kind_version=job.kind_version,
            payload=job.payload,
            expires_at=lease.expires_at,
            seconds=lease_seconds(job.size_hint),
        )
        for job, lease in zip(jobs, leases, strict=True)
    ]


def _leasable_by(node: WorkerNode, kinds: list[str]):
    """Jobs of these kinds the node may take: a replica never goes to a contributor who
    already has a result in its group, flagged nodes don't verify anyone, and a job given back
    JOB_RELEASES_AVOID_AFTER times skips the nodes that gave it back lately."""
    gave_back_lately = Lease.objects.filter(
        job=OuterRef("pk"),
        node=node,
        state=Lease.State.RELEASED,
        ended_at__gte=timezone.now() - timedelta(seconds=settings.JOB_RELEASE_AVOID_SECONDS),
    )
    jobs = Job.objects.filter(kind__in=kinds).exclude(
        Q(releases__gte=settings.JOB_RELEASES_AVOID_AFTER) & Exists(gave_back_lately)
    )
    if node.is_flagged:
        return jobs.filter(replica_of__isnull=True)
    owner_has_result_in_group = JobResult.objects.filter(
        Q(job_id=OuterRef("replica_of_id")) | Q(job__replica_of_id=OuterRef("replica_of_id")),
        node__owner_id=node.owner_id,
    )
    return jobs.filter(Q(replica_of__isnull=True) | ~Exists(owner_has_result_in_group))


def expire_overdue_leases(*, batch: int = 500) -> int:
    """Bookkeeping for leases nobody re-leased yet: end them, count the attempt, requeue or
    dead-letter. Leasing doesn't need this (it takes overdue jobs itself)."""
    now = timezone.now()
    with transaction.atomic():
        overdue = list(
            Job.objects.filter(status=Job.Status.LEASED, lease_expires_at__lt=now)
            .order_by("id")
            .select_for_update(skip_locked=True)[:batch]
        )
        requeue_jobs(_expire(overdue, now), now)
    return len(overdue)


def _expire(jobs: list[Job], now: datetime) -> list[Job]:
    """End the overdue leases of locked ``jobs`` and count an attempt for each; jobs out of
    attempts are dead-lettered. Returns the jobs that may run again."""
    end_leases(jobs, Lease.State.EXPIRED, now)
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(attempts=F("attempts") + 1)
    events = []
    for job in jobs:
        job.attempts += 1
        events.append(
            JobEvent(
                job=job,
                node_id=job.lease_owner_id,
                kind=JobEvent.Kind.EXPIRED,
                message=f"lease expired (attempt {job.attempts} of {job.max_attempts})",
            )
        )
    JobEvent.objects.bulk_create(events)
    spent = [job for job in jobs if job.attempts >= job.max_attempts]
    if spent:
        dead_letter_jobs(spent, now)
    return [job for job in jobs if job.attempts < job.max_attempts]


# --- the other hot steps of node calls, on whichever path is in use --------------------------


def node_by_token_hash(token_hash: str) -> tuple[WorkerNode | None, int | None, bool]:
    """The node with this token hash, its owner's user id and whether the owner is banned."""
    if _use_pg_queue():
        row = pg_queue.node_by_token_hash(token_hash)
        if row is None:
            return None, None, False
        *fields, user_id, owner_banned = row
        node = WorkerNode.from_db(connection.alias, pg_queue.NODE_FIELDS, fields)
        node.capabilities = json.loads(node.capabilities)
        return node, user_id, owner_banned
    node = WorkerNode.objects.select_related("owner").filter(token_hash=token_hash).first()
    if node is None:
        return None, None, False
    return node, node.owner.user_id, node.owner.is_banned


def lock_node_leases(
    node: WorkerNode, lease_ids: list
) -> tuple[dict[int, tuple[str, str]], list[tuple]]:
    """Lock the jobs behind the node's ``lease_ids`` (replicas' primaries first), then read
    the leases and any results they already have: ({job id: (kind, status)}, [(lease id, job
    id, state, leased at, result id, result sha256, result status)])."""
    if _use_pg_queue():
        return pg_queue.lock_node_leases(node, lease_ids)
    own = Lease.objects.filter(pk__in=lease_ids, node=node)
    ids = set()
    for job_id, primary_id in own.values_list("job_id", "job__replica_of_id"):
        ids.update(filter(None, (job_id, primary_id)))
    jobs = {job.pk: (job.kind, job.status) for job in lock_jobs(sorted(ids))}
    rows = own.values_list(
        "id",
        "job_id",
        "state",
        "leased_at",
        "result__id",
        "result__output_sha256",
        "result__status",
    )
    return jobs, list(rows)


def store_results(node: WorkerNode, accepted: list[tuple], now: datetime) -> dict:
    """Store (job id, lease id, output, sha256, stats) rows as pending results, end their
    leases and move their jobs to validation. {lease id: result id}."""
    if _use_pg_queue():
        return pg_queue.store_results(node, accepted, now)
    return _store_results_orm(node, accepted, now)


def store_and_lease(
    node: WorkerNode,
    accepted: list[tuple],
    *,
    max_jobs: int,
    kinds: list[str] | None,
    now: datetime,
    commit: bool,
) -> tuple[dict, list[GrantedLease]]:
    """``store_results`` of ``accepted``, then ``lease_jobs``, in the caller's transaction.

    On PostgreSQL the store, the lease and (with ``commit``, when the caller's transaction is
    the outermost) the COMMIT go to the server together, in one round trip. When overdue
    leases wait, the lease statement leases nothing and the ORM path takes them over after
    that COMMIT, in a transaction of its own that Django commits."""
    lease_kinds = _kinds_to_lease(node, kinds, max_jobs)
    if not _use_pg_queue():
        stored = _store_results_orm(node, accepted, now) if accepted else {}
        leased = _lease_jobs_orm(node, lease_kinds, max_jobs, timezone.now()) if lease_kinds else []
        return stored, _with_texts(leased)
    stored, leased = pg_queue.store_and_lease(
        node, accepted, lease_kinds, max_jobs, now, commit=commit
    )
    if leased is None:  # overdue leases wait: the ORM path takes them over first
        return stored, _with_texts(_lease_jobs_orm(node, lease_kinds, max_jobs, timezone.now()))
    return stored, _with_texts([GrantedLease(*row) for row in leased])


def _store_results_orm(node: WorkerNode, accepted: list[tuple], now: datetime) -> dict:
    results = JobResult.objects.bulk_create(
        JobResult(
            job_id=job_id,
            node=node,
            lease_id=lease_id,
            output=output,
            output_sha256=digest,
            stats=stats,
        )
        for job_id, lease_id, output, digest, stats in accepted
    )
    Lease.objects.filter(pk__in=[item[1] for item in accepted]).update(
        state=Lease.State.SUBMITTED, ended_at=now
    )
    Job.objects.filter(pk__in=[item[0] for item in accepted]).update(
        status=Job.Status.VALIDATING, lease_expires_at=None, updated_at=now
    )
    return {result.lease_id: result.pk for result in results}
