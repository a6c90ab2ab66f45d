"""Handing outputs in: one at a time, or in an exchange that also leases more work. Each
output is judged on its own (schema, repeats, lost leases, implausible speed) and stored
as a pending result that validation picks up once its transaction commits."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from alexandria.jobs.dispatch import dispatcher
from alexandria.jobs.errors import (
    InvalidInput,
    JobsError,
    LeaseConflict,
    LeaseNotFound,
    OutputRejected,
    ResultTooLarge,
)
from alexandria.jobs.models import Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.services import churn, leasing
from alexandria.jobs.services.held_leases import LEASE_ENDED, node_message
from alexandria.jobs.services.leasing import GrantedLease
from alexandria.jobs.services.lifecycle import canonical_json
from alexandria.jobs.services.nodes import node_contract
from jobkinds import get_kind


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
                stored = leasing.store_results(node, _result_rows(accepted), now)
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
    nothing left to do and runs the on-commit callbacks."""
    outcomes, checked = _check_sizes(submissions)
    now = timezone.now()
    paused = churn.pause_of(node, now)
    if paused is not None and max_jobs:
        if not submissions:
            raise paused
        max_jobs = 0  # a paused node still hands its results in
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        judged, accepted = _judge_submissions(node, checked, now) if checked else ({}, [])
        outcomes.update(judged)
        stored, granted = leasing.store_and_lease(
            node,
            _result_rows(accepted),
            max_jobs=max_jobs,
            kinds=kinds,
            now=now,
            commit=outermost,
        )
        outcomes.update(_stored_outcomes(accepted, stored))
    return [outcomes[submission.lease_id] for submission in submissions], granted


def _check_sizes(submissions: list[Submission]) -> tuple[dict, list]:
    """Refuse oversized outputs and outputs that are no UTF-8 text; hash the rest. ({lease id:
    refusal}, [(submission, sha256, whether it may hold a NUL)])."""
    if len({submission.lease_id for submission in submissions}) != len(submissions):
        raise InvalidInput("Each lease may appear only once in a request.")
    outcomes: dict[uuid.UUID, SubmitOutcome] = {}
    checked = []
    for submission in submissions:
        try:
            encoded = canonical_json(submission.output)
        except UnicodeEncodeError as exc:
            # A lone surrogate ("\ud800" sent as JSON): no text; only this output is refused.
            outcomes[submission.lease_id] = SubmitOutcome(
                submission.lease_id,
                error=OutputRejected(
                    [f"a lone UTF-16 surrogate ({exc.object[exc.start]!a}) is no text"],
                    "The output is not valid UTF-8 text.",
                ),
            )
            continue
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
    and repeats as outcomes, the outputs to store as (lease row, submission, sha256). Outputs
    are held to the node's output contract (``nodes.node_contract``). Invalid
    outputs and implausible speed are recorded on the node here, in the caller's
    transaction."""
    outcomes = {}
    accepted, invalid = [], []
    contract = node_contract(node)
    jobs, rows = leasing.lock_node_leases(node, [item[0].lease_id for item in checked])
    by_id = {lease.lease_id: lease for lease in map(_LeaseRow._make, rows)}
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
                submission.lease_id, error=LeaseConflict(LEASE_ENDED[lease.state])
            )
            continue
        # The contract's limits that need no payload (tiny); the pipeline's handlers check
        # those sized to the payload (capable).
        errors = get_kind(kind).contract_errors(submission.output, contract)
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


def _record_invalid_outputs(node: WorkerNode, invalid: list[tuple[int, list[str]]]) -> None:
    """Outputs that break their kind's schema stay on the job's and the node's record (schema
    errors quote the output's values: a copy of the source text is withheld), and each one
    halves the node's trust."""
    sources = dict(
        Job.objects.filter(pk__in=[job_id for job_id, _ in invalid]).values_list("pk", "source_id")
    )
    JobEvent.objects.bulk_create(
        JobEvent(
            job_id=job_id,
            node=node,
            kind=JobEvent.Kind.INVALID,
            message=node_message(sources.get(job_id), "output schema: " + "; ".join(errors)[:2000]),
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
