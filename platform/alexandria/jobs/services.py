"""Writes for volunteer jobs: nodes, the job lifecycle and the lease protocol.

Locking order, everywhere: job rows (a replica's primary first, then by id), then lease and
result rows. Leasing takes job rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite
every transaction is ``BEGIN IMMEDIATE`` (see settings), so lease calls run one at a time.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Least
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.jobs import pg_queue
from alexandria.jobs.dispatch import dispatcher
from alexandria.jobs.models import Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.tokens import hash_node_token, new_node_token
from alexandria.sources.models import Source
from worker.kinds import UnknownKindError, get_kind

TOKEN_PREFIX_CHARS = 12
MAX_PRIORITY = 32767
OUTSTANDING = (Job.Status.QUEUED, Job.Status.LEASED, Job.Status.VALIDATING)
FINISHED = (Job.Status.DONE, Job.Status.FAILED, Job.Status.CANCELLED)


# The hand-written PostgreSQL statements of the lease and submit paths (pg_queue); tests turn
# this off to run the same rules through the portable ORM path on PostgreSQL too.
USE_PG_QUEUE = True


def use_pg_queue() -> bool:
    return USE_PG_QUEUE and connection.vendor == "postgresql"


class JobsError(Exception):
    """A request the job system refuses; the message says why, for the caller."""


class InvalidInput(JobsError):
    def __init__(self, message: str, errors: Any = None):
        super().__init__(message)
        self.errors = errors


class LeaseNotFound(JobsError):
    """No lease with that id belongs to the calling node (other nodes' leases look the same)."""


class LeaseConflict(JobsError):
    """The lease can no longer do what was asked (expired and re-leased, submitted, …)."""


class ResultTooLarge(JobsError):
    pass


class OutputRejected(JobsError):
    """The output breaks the kind's output schema; counted against the node."""

    def __init__(self, errors: list[str]):
        super().__init__("The output does not match the job kind's output schema.")
        self.errors = errors


# --- nodes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredNode:
    node: WorkerNode
    token: str


def register_node(owner: Contributor, *, name: str, capabilities: dict) -> RegisteredNode:
    """Create a node for ``owner``; the token is returned here once and stored only hashed."""
    unknown = []
    for kind in capabilities["kinds"]:
        try:
            get_kind(kind)
        except UnknownKindError:
            unknown.append(kind)
    if unknown:
        raise InvalidInput(
            f"Unknown job kinds: {', '.join(sorted(unknown))}.",
            {"capabilities": {"kinds": [f"unknown kind {kind!r}" for kind in unknown]}},
        )
    token = new_node_token()
    try:
        with transaction.atomic():
            node = WorkerNode.objects.create(
                owner=owner,
                name=name,
                token_hash=hash_node_token(token),
                token_prefix=token[:TOKEN_PREFIX_CHARS],
                capabilities=capabilities,
            )
    except IntegrityError as exc:
        raise InvalidInput(
            f"You already have a node named {name!r}; pick another name.",
            {"name": ["already used by another of your nodes"]},
        ) from exc
    return RegisteredNode(node=node, token=token)


def revoke_node(node: WorkerNode) -> WorkerNode:
    """Revoke the node's token and give its leased jobs back to the queue."""
    now = timezone.now()
    with transaction.atomic():
        WorkerNode.objects.filter(pk=node.pk, revoked_at__isnull=True).update(revoked_at=now)
        jobs = list(
            Job.objects.select_for_update()
            .filter(status=Job.Status.LEASED, lease_owner=node)
            .order_by("id")
        )
        end_leases(jobs, Lease.State.RELEASED, now)
        requeue_jobs(jobs, now)
        JobEvent.objects.bulk_create(
            JobEvent(job=job, node=node, kind=JobEvent.Kind.RELEASED, message="node revoked")
            for job in jobs
        )
    node.refresh_from_db(fields=["revoked_at"])
    return node


def raise_trust(node_ids: list[int]) -> None:
    """Agreement with another contributor moves trust a fifth of the way towards 1."""
    WorkerNode.objects.filter(pk__in=node_ids).update(trust=Least(F("trust") * 0.8 + 0.2, 1.0))


def lower_trust(node_ids: list[int]) -> None:
    """A wrong or disputed result halves trust."""
    WorkerNode.objects.filter(pk__in=node_ids).update(trust=F("trust") * 0.5)


# --- jobs --------------------------------------------------------------------------------------


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
    """Queue a job after checking its payload against the kind's input schema."""
    try:
        job_kind = get_kind(kind)
    except UnknownKindError as exc:
        raise InvalidInput(f"Unknown job kind {kind!r}.") from exc
    errors = job_kind.input_errors(payload)
    if errors:
        raise InvalidInput(f"The payload does not match {kind}'s input schema.", errors)
    return Job.objects.create(
        kind=kind,
        kind_version=job_kind.version,
        payload=payload,
        source=source,
        priority=priority,
        size_hint=len(canonical_json(payload)) if size_hint is None else size_hint,
    )


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
        end_leases(targets, Lease.State.CANCELLED, now)
        JobResult.objects.filter(job__in=targets, status=JobResult.Status.PENDING).update(
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
        if job.replica_of_id is not None:
            _resolve_replication_on_commit(job.replica_of_id)
    job.refresh_from_db()
    return True


def requeue_job(job: Job, *, reason: str = "") -> bool:
    """Give a failed or cancelled job a fresh start (attempts reset; old results set aside)."""
    now = timezone.now()
    with transaction.atomic():
        (locked,) = lock_jobs([job.pk])
        if locked.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
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


# --- leasing -----------------------------------------------------------------------------------


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
    allowed = _kinds_to_lease(node, kinds, max_jobs)
    if not allowed:
        return []
    now = timezone.now()
    if use_pg_queue():
        rows = pg_queue.lease_queued(node, allowed, max_jobs, now)
        if rows is not None:
            return [GrantedLease(*row) for row in rows]
    return _lease_jobs_orm(node, allowed, max_jobs, now)


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
    already has a result in its group, and flagged nodes don't verify anyone."""
    jobs = Job.objects.filter(kind__in=kinds)
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


def vacuum_job_tables() -> list[str]:
    """VACUUM the job tables holding at least JOB_TABLES_VACUUM_MIN_DEAD_ROWS dead rows; their
    names. PostgreSQL only: SQLite keeps no dead rows.

    Each job changes status several times, and each change leaves a dead row version and dead
    entries in the partial indexes that leasing reads from their start (the queue order, the
    lease expiry). Autovacuum visits a database about once a minute; without a vacuum, the
    database's CPU per batch-16 exchange more than doubled within 45,000 jobs. Index cleanup
    is forced (VACUUM may skip it when few pages changed, and those entries are what leasing
    reads); truncation is off (it locks the table out for leasing)."""
    if connection.vendor != "postgresql":
        return []
    threshold = settings.JOB_TABLES_VACUUM_MIN_DEAD_ROWS
    tables = [model._meta.db_table for model in (Job, Lease, JobResult)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables "
            "WHERE relname = ANY(%s) AND n_dead_tup >= %s ORDER BY relname",
            [tables, threshold],
        )
        due = [name for (name,) in cursor.fetchall()]
        if due:
            names = ", ".join(connection.ops.quote_name(name) for name in due)
            cursor.execute(f"VACUUM (INDEX_CLEANUP ON, TRUNCATE FALSE, SKIP_LOCKED) {names}")
    return due


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
    from tasks.validation import resolve_replication

    transaction.on_commit(lambda: resolve_replication.delay(primary_id))


def lock_jobs(job_ids: list[int]) -> list[Job]:
    """Lock jobs in id order (a primary's id is below its replicas', so primaries go first)."""
    return list(Job.objects.select_for_update().filter(pk__in=job_ids).order_by("id"))


# --- the node's side of a lease ------------------------------------------------------------


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


_LOST = {
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
            raise LeaseConflict(_LOST[lease.state])
        expires_at = timezone.now() + timedelta(seconds=lease_seconds(job.size_hint))
        Lease.objects.filter(pk=lease.pk).update(expires_at=expires_at)
        Job.objects.filter(pk=job.pk).update(lease_expires_at=expires_at)
    return Heartbeat(lease.pk, expires_at, cancelled=False)


@dataclass(frozen=True)
class Submission:
    """One output a node hands in for one of its leases."""

    lease_id: uuid.UUID
    output: dict
    stats: dict


@dataclass(frozen=True)
class SubmitOutcome:
    """What became of one submission: a stored result, or the refusal to report."""

    lease_id: uuid.UUID
    result_id: int | None = None
    result_status: str | None = None
    error: JobsError | None = None


class _LeaseRow(NamedTuple):
    lease_id: uuid.UUID
    job_id: int
    state: str
    leased_at: datetime
    result_id: int | None
    result_sha256: str | None
    result_status: str | None


def submit_result(node: WorkerNode, lease_id, *, output: dict, stats: dict) -> SubmitOutcome:
    """Accept one output for validation; raises the refusal as a JobsError."""
    (outcome,) = submit_results(node, [Submission(lease_id, output, stats)])
    if outcome.error is not None:
        raise outcome.error
    return outcome


def submit_results(node: WorkerNode, submissions: list[Submission]) -> list[SubmitOutcome]:
    """Accept outputs for validation, each judged on its own, all in one transaction.
    Repeating the same output answers the same; a late result is still taken while nobody
    else holds the job. Outcomes come back in the order of ``submissions``."""
    outcomes, checked = _check_sizes(submissions)
    if checked:
        now = timezone.now()
        with transaction.atomic(savepoint=False):  # inside exchange(), no savepoint round trips
            judged, accepted = _judge_submissions(node, checked, now)
            outcomes.update(judged)
            if accepted:
                stored = _store_results(node, _result_rows(accepted), now)
                outcomes.update(_stored_outcomes(accepted, stored))
    return [outcomes[submission.lease_id] for submission in submissions]


def exchange(
    node: WorkerNode,
    submissions: list[Submission],
    *,
    max_jobs: int,
    kinds: list[str] | None = None,
) -> tuple[list[SubmitOutcome], list[GrantedLease]]:
    """Take a node's finished outputs, then lease it more work, in one transaction: one
    commit per round trip of a busy node.

    On PostgreSQL the accepted outputs' store, the lease and the COMMIT go to the server
    together, in one round trip after the one that locks and reads the leases (two round
    trips fewer than storing, leasing and committing one after another). The COMMIT goes
    along only when this is the outermost transaction; Django's own commit then finds
    nothing left to do and runs the on-commit callbacks. When overdue leases wait, the lease
    statement leases nothing and the general path takes them over after that COMMIT, in a
    transaction of its own that Django commits."""
    if not use_pg_queue():
        with transaction.atomic():
            outcomes = submit_results(node, submissions) if submissions else []
            return outcomes, lease_jobs(node, max_jobs=max_jobs, kinds=kinds)
    outcomes, checked = _check_sizes(submissions)
    lease_kinds = _kinds_to_lease(node, kinds, max_jobs)
    now = timezone.now()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        judged, accepted = _judge_submissions(node, checked, now) if checked else ({}, [])
        outcomes.update(judged)
        stored, leased = pg_queue.store_and_lease(
            node, _result_rows(accepted), lease_kinds, max_jobs, now, commit=outermost
        )
        outcomes.update(_stored_outcomes(accepted, stored))
        if leased is None:  # overdue leases wait: the general path takes them over first
            granted = _lease_jobs_orm(node, lease_kinds, max_jobs, timezone.now())
        else:
            granted = [GrantedLease(*row) for row in leased]
    return [outcomes[submission.lease_id] for submission in submissions], granted


def _check_sizes(submissions: list[Submission]) -> tuple[dict, list]:
    """Refuse oversized outputs; hash the rest. ({lease id: refusal}, [(submission, sha256,
    whether it may hold a NUL)])."""
    if len({submission.lease_id for submission in submissions}) != len(submissions):
        raise InvalidInput("Each lease may appear only once in a request.")
    outcomes: dict[uuid.UUID, SubmitOutcome] = {}
    checked = []
    for submission in submissions:
        encoded = canonical_json(submission.output)
        if len(encoded) > settings.RESULT_MAX_BYTES:
            outcomes[submission.lease_id] = SubmitOutcome(
                submission.lease_id,
                error=ResultTooLarge(
                    f"The output is {len(encoded):,} bytes; results are limited to "
                    f"{settings.RESULT_MAX_BYTES:,} bytes."
                ),
            )
        else:
            digest = hashlib.sha256(encoded).hexdigest()
            checked.append((submission, digest, b"\\u0000" in encoded))
    return outcomes, checked


def _judge_submissions(
    node: WorkerNode, checked: list, now: datetime
) -> tuple[dict[uuid.UUID, SubmitOutcome], list[tuple]]:
    """Lock the jobs behind the submissions' leases and judge each submission: refusals
    and repeats as outcomes, the outputs to store as (lease row, submission, sha256). Invalid
    outputs and implausible speed are recorded on the node here, in the caller's
    transaction."""
    outcomes = {}
    accepted, invalid = [], []
    jobs, leases = _lock_node_leases(node, [item[0].lease_id for item in checked])
    by_id = {lease.lease_id: lease for lease in leases}
    for submission, digest, may_hold_nul in checked:
        lease = by_id.get(submission.lease_id)
        if lease is None:
            outcomes[submission.lease_id] = SubmitOutcome(
                submission.lease_id, error=LeaseNotFound("No such lease.")
            )
            continue
        if lease.result_id is not None:
            outcomes[submission.lease_id] = _repeated(lease, digest)
            continue
        kind, job_status = jobs[lease.job_id]
        taken_back = lease.state == Lease.State.EXPIRED and job_status == Job.Status.QUEUED
        if lease.state != Lease.State.ACTIVE and not taken_back:
            outcomes[submission.lease_id] = SubmitOutcome(
                submission.lease_id, error=LeaseConflict(_LOST[lease.state])
            )
            continue
        errors = get_kind(kind).output_errors(submission.output)
        if not errors and may_hold_nul:
            errors = _unstorable(submission.output)
        if errors:
            invalid.append((lease.job_id, errors))
            outcomes[submission.lease_id] = SubmitOutcome(
                submission.lease_id, error=OutputRejected(errors)
            )
        else:
            accepted.append((lease, submission, digest))
            # A second lease of the same job in this batch is now too late.
            jobs[lease.job_id] = (kind, Job.Status.VALIDATING)
    if invalid:
        _record_invalid_outputs(node, invalid)
    if accepted:
        _flag_implausible_speed(node, accepted, now)
    return outcomes, accepted


def _result_rows(accepted: list[tuple]) -> list[tuple]:
    """(job id, lease id, output, sha256, stats) rows of judged submissions, to store."""
    return [
        (lease.job_id, lease.lease_id, submission.output, digest, submission.stats)
        for lease, submission, digest in accepted
    ]


def _stored_outcomes(accepted: list[tuple], stored: dict) -> dict[uuid.UUID, SubmitOutcome]:
    """The outcomes of stored results, which go to validation once their transaction
    commits."""
    if not accepted:
        return {}
    result_ids = list(stored.values())
    transaction.on_commit(lambda: dispatcher.announce(result_ids))
    return {
        lease.lease_id: SubmitOutcome(
            lease.lease_id, stored[lease.lease_id], JobResult.Status.PENDING
        )
        for lease, _, _ in accepted
    }


def _unstorable(value: Any) -> list[str]:
    """JSON the database refuses: PostgreSQL's jsonb has no NUL character in strings."""
    if isinstance(value, str):
        return ["text contains a NUL character (\\u0000)"] if "\x00" in value else []
    if isinstance(value, dict):
        return [error for item in (*value, *value.values()) for error in _unstorable(item)][:1]
    if isinstance(value, list):
        return [error for item in value for error in _unstorable(item)][:1]
    return []


def _repeated(lease: _LeaseRow, digest: str) -> SubmitOutcome:
    if lease.result_sha256 != digest:
        return SubmitOutcome(
            lease.lease_id,
            error=LeaseConflict("A different output was already submitted for this lease."),
        )
    return SubmitOutcome(lease.lease_id, lease.result_id, lease.result_status)


def _lock_node_leases(
    node: WorkerNode, lease_ids: list
) -> tuple[dict[int, tuple[str, str]], list[_LeaseRow]]:
    """Lock the jobs behind the node's ``lease_ids`` (replicas' primaries first), then read
    the leases and any results they already have."""
    if use_pg_queue():
        jobs, rows = pg_queue.lock_node_leases(node, lease_ids)
        return jobs, [_LeaseRow(*row) for row in rows]
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
    return jobs, [_LeaseRow(*row) for row in rows]


def _store_results(node: WorkerNode, accepted: list[tuple], now: datetime) -> dict:
    """Store (job id, lease id, output, sha256, stats) rows as pending results, end their
    leases and move their jobs to validation. {lease id: result id}."""
    if use_pg_queue():
        return pg_queue.store_results(node, accepted, now)
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


def _record_invalid_outputs(node: WorkerNode, invalid: list[tuple[int, list[str]]]) -> None:
    """Outputs that break their kind's schema stay on the job's and the node's record, and
    each one halves the node's trust."""
    JobEvent.objects.bulk_create(
        JobEvent(
            job_id=job_id,
            node=node,
            kind=JobEvent.Kind.INVALID,
            message="output schema: " + "; ".join(errors)[:2000],
        )
        for job_id, errors in invalid
    )
    WorkerNode.objects.filter(pk=node.pk).update(
        invalid_results=F("invalid_results") + len(invalid), trust=F("trust") * 0.5 ** len(invalid)
    )


def _flag_implausible_speed(node: WorkerNode, accepted: list, now: datetime) -> None:
    for lease, submission, _ in accepted:
        suspicion = implausible_speed(
            submission.stats, seconds_held=(now - lease.leased_at).total_seconds()
        )
        if suspicion:
            WorkerNode.objects.filter(pk=node.pk).update(is_flagged=True, flag_reason=suspicion)
            return


def implausible_speed(stats: dict, *, seconds_held: float) -> str:
    """Why a result's claimed throughput is impossible, or "" when it is plausible. Checked
    against the node's own elapsed time and against the time it actually held the lease."""
    tokens = stats.get("completion_tokens") or 0
    if tokens <= 0:
        return ""
    limit = settings.MAX_PLAUSIBLE_TOKENS_PER_S
    elapsed = stats.get("elapsed_s")
    if elapsed is not None and tokens > limit * elapsed:
        return f"claimed {tokens} completion tokens in {elapsed:.3f}s (limit {limit:g}/s)"
    if tokens > limit * max(seconds_held, 0.0):
        return (
            f"{tokens} completion tokens within {seconds_held:.3f}s of leasing (limit {limit:g}/s)"
        )
    return ""


@dataclass(frozen=True)
class FailOutcome:
    job_status: str
    attempts: int


def fail_lease(node: WorkerNode, lease_id, *, error: str, release: bool) -> FailOutcome:
    """The node gives the job up: ``release`` (shutting down) costs no attempt; a failure
    does, and the job is dead-lettered when its attempts are spent."""
    lease = _node_lease(node, lease_id)
    now = timezone.now()
    with transaction.atomic():
        job = _lock_lease_job(lease)
        if lease.state != Lease.State.ACTIVE:
            raise LeaseConflict(_LOST[lease.state])
        end_leases([job], Lease.State.RELEASED if release else Lease.State.FAILED, now)
        if release:
            JobEvent.objects.create(job=job, node=node, kind=JobEvent.Kind.RELEASED, message=error)
            requeue_jobs([job], now)
            return FailOutcome(Job.Status.QUEUED, job.attempts)
        job.attempts += 1
        Job.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)
        JobEvent.objects.create(job=job, node=node, kind=JobEvent.Kind.ERROR, message=error)
        if job.attempts >= job.max_attempts:
            dead_letter_jobs([job], now)
            return FailOutcome(Job.Status.FAILED, job.attempts)
        requeue_jobs([job], now)
        return FailOutcome(Job.Status.QUEUED, job.attempts)
