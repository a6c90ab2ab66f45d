"""The job protocol's hot statements, written by hand for PostgreSQL.

Every node call (authentication, lease, submit) runs through here on PostgreSQL, so each step
is one round trip of fixed SQL, prepared and planned once per database connection (settings
sets ``plan_cache_mode=force_generic_plan``, which only prepared statements, these, obey):
building the equivalent ORM queries, and planning them anew each time, costs several times
more CPU than executing them. ``services.leasing``, which picks the path, keeps the ORM
versions for SQLite (the embedded default) and for the rare paths (overdue leases, invalid
outputs); both implement the same rules and the job tests run against each.
"""

import json
import threading
from datetime import datetime

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from psycopg.pq import Format

# Cursors kept per thread for its database connection: a cursor learns how to send each
# parameter type and read each column type, and a new one per statement learns it all again.
_kept = threading.local()

# psycopg's own timestamptz loader (C). Django registers a pure-Python subclass on each
# connection only to set the result's zone, which psycopg's loader takes from the session's
# TimeZone, and Django sets that to the same zone when it connects. Loading an exchange's
# timestamps through the subclass cost about 0.08 ms of its 1.4 ms of Python CPU.
_TIMESTAMPTZ_LOADER = psycopg.adapters.get_loader(
    psycopg.adapters.types["timestamptz"].oid, Format.TEXT
)


def _cursors(count: int) -> list[psycopg.Cursor]:
    """``count`` cursors of this thread's database connection (opened if need be)."""
    connection.ensure_connection()
    conn = connection.connection
    if getattr(_kept, "connection", None) is not conn:
        _kept.connection, _kept.cursors = conn, []
    while len(_kept.cursors) < count:
        cursor = psycopg.Cursor(conn)
        cursor.adapters.register_loader("timestamptz", _TIMESTAMPTZ_LOADER)
        _kept.cursors.append(cursor)
    return _kept.cursors[:count]


def _execute(statement: str, params: dict) -> list[tuple]:
    """Run ``statement`` (every one here returns rows) as a server-side prepared statement on
    Django's connection, in its transaction if one is open; Django's own cursors bind
    parameters client-side. (Not ``cursor.description``: it builds a column object per
    column on each call, which cost more than the rest of a short statement.)"""
    (cursor,) = _cursors(1)
    with connection.wrap_database_errors:
        cursor.execute(statement, params, prepare=True)
        return cursor.fetchall()


def _execute_pipelined(
    statements: list[tuple[str, dict]], *, commit: bool = False
) -> list[list[tuple]]:
    """Run statements as ``_execute`` does, sent together (with the transaction's BEGIN, if
    this opens one, and its COMMIT with ``commit``) and answered in one round trip; the
    server still runs them in order, and one that fails skips the rest, COMMIT included."""
    cursors = _cursors(len(statements))
    conn = connection.connection
    with connection.wrap_database_errors, conn.pipeline():
        for cursor, (statement, params) in zip(cursors, statements, strict=True):
            cursor.execute(statement, params, prepare=True)
        if commit:
            conn.commit()
        return [cursor.fetchall() for cursor in cursors]


_NODE_BY_HASH = """
SELECT n.id, n.owner_id, n.name, n.token_hash, n.token_prefix, n.capabilities::text, n.trust,
       n.valid_results, n.invalid_results, n.rejected_facts, n.is_flagged, n.flag_reason,
       n.revoked_at, n.last_seen_at, n.created_at, n.paused_until, n.pause_reason,
       c.user_id, c.is_banned
FROM jobs_workernode n JOIN contributors_contributor c ON c.id = n.owner_id
WHERE n.token_hash = %(token_hash)s
"""


# The WorkerNode fields _NODE_BY_HASH selects, in the model's field order (``from_db`` fills
# them in that order; capabilities as JSON text).
NODE_FIELDS = (
    "id", "owner_id", "name", "token_hash", "token_prefix", "capabilities", "trust",
    "valid_results", "invalid_results", "rejected_facts", "is_flagged", "flag_reason",
    "revoked_at", "last_seen_at", "created_at", "paused_until", "pause_reason",
)  # fmt: skip


def node_by_token_hash(token_hash: str) -> tuple | None:
    """The NODE_FIELDS of the node with this token hash, then its owner's user id and whether
    the owner is banned; None if no node has it.

    This read is the first statement of every node call, so it stands in for Django's
    connection health check (a ``SELECT 1`` round trip per request): on a persistent
    connection the server dropped it fails, and runs once more on a new connection."""
    params = {"token_hash": token_hash}
    if (
        connection.health_check_enabled
        and not connection.health_check_done
        and connection.connection is not None
        and not connection.in_atomic_block
    ):
        connection.health_check_done = True
        try:
            rows = _execute(_NODE_BY_HASH, params)
        except (OperationalError, InterfaceError):
            connection.close()
            rows = _execute(_NODE_BY_HASH, params)
    else:
        rows = _execute(_NODE_BY_HASH, params)
    return rows[0] if rows else None


# Queued jobs this node may take, in queue order, locked without waiting for other leasers.
# A replica never goes to a contributor who already has a result in its group, and flagged
# nodes verify nobody, and a job given back JOB_RELEASES_AVOID_AFTER times skips the nodes that
# gave it back lately (the same rules as leasing._leasable_by; the column check comes first, so
# the lease lookup runs only for such jobs). Nothing is taken while overdue
# leases of these kinds wait: the caller then leases through the general path, which takes
# them over first. The overdue check walks the lease-expiry index from its oldest expiry and
# stops at the first overdue job of these kinds: written as EXISTS, the generic plan read
# every leased job instead (all the work in flight, on every lease call).
_LEASE_QUEUED = """
WITH overdue AS (
    SELECT (
        SELECT 1 FROM jobs_job
        WHERE status = 'leased' AND lease_expires_at < %(now)s AND kind = ANY(%(kinds)s)
        ORDER BY lease_expires_at
        LIMIT 1
    ) IS NOT NULL AS waiting
), picked AS (
    SELECT j.id FROM jobs_job j
    WHERE j.status = 'queued' AND j.kind = ANY(%(kinds)s)
      AND NOT (SELECT waiting FROM overdue)
      AND (j.replica_of_id IS NULL OR (NOT %(flagged)s AND NOT EXISTS (
          SELECT 1 FROM jobs_jobresult r
          JOIN jobs_workernode rn ON rn.id = r.node_id
          JOIN jobs_job rj ON rj.id = r.job_id
          WHERE (r.job_id = j.replica_of_id OR rj.replica_of_id = j.replica_of_id)
            AND rn.owner_id = %(owner)s)))
      AND (j.releases < %(avoid_after)s OR NOT EXISTS (
          SELECT 1 FROM jobs_lease l
          WHERE l.job_id = j.id AND l.node_id = %(node)s AND l.state = 'released'
            AND l.ended_at >= %(now)s - make_interval(secs => %(avoid_seconds)s)))
    ORDER BY j.priority DESC, j.id
    LIMIT :limit
    FOR UPDATE OF j SKIP LOCKED
), leased AS (
    UPDATE jobs_job j
    SET status = 'leased', lease_owner_id = %(node)s, updated_at = %(now)s,
        lease_expires_at = %(now)s + make_interval(
            secs => LEAST(%(max_seconds)s, %(min_seconds)s + j.size_hint / %(chars_per_second)s))
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.kind, j.kind_version, j.payload, j.priority, j.lease_expires_at,
              LEAST(%(max_seconds)s, %(min_seconds)s + j.size_hint / %(chars_per_second)s)
                  AS seconds
), leases AS (
    INSERT INTO jobs_lease (id, job_id, node_id, state, leased_at, expires_at)
    SELECT gen_random_uuid(), id, %(node)s, 'active', %(now)s, lease_expires_at FROM leased
    RETURNING id, job_id
)
SELECT overdue.waiting, leases.id, leased.id, leased.kind, leased.kind_version,
       leased.payload::text, leased.lease_expires_at, leased.seconds
FROM overdue
LEFT JOIN (leased JOIN leases ON leases.job_id = leased.id) ON true
ORDER BY leased.priority DESC, leased.id
"""


def lease_queued(node, kinds: list[str], limit: int, now: datetime) -> list[tuple] | None:
    """Lease up to ``limit`` queued jobs to ``node`` in one statement. Rows of (lease id,
    job id, kind, kind version, payload, expiry, seconds); None when overdue leases wait."""
    return _granted(_execute(*_lease_statement(node, kinds, limit, now)))


def _lease_statement(node, kinds: list[str], limit: int, now: datetime) -> tuple[str, dict]:
    # The limit is written into the statement (one prepared statement per batch size): with
    # a parameter, the generic plan would expect a large share of the queue and scan it all.
    return _LEASE_QUEUED.replace(":limit", str(int(limit))), {
        "now": now,
        "kinds": kinds,
        "node": node.pk,
        "owner": node.owner_id,
        "flagged": node.is_flagged,
        "min_seconds": settings.LEASE_MIN_SECONDS,
        "max_seconds": settings.LEASE_MAX_SECONDS,
        "chars_per_second": settings.LEASE_CHARS_PER_SECOND,
        "avoid_after": settings.JOB_RELEASES_AVOID_AFTER,
        "avoid_seconds": settings.JOB_RELEASE_AVOID_SECONDS,
    }


def _granted(rows: list[tuple]) -> list[tuple] | None:
    if rows[0][0]:
        return None
    return [
        (lease_id, job_id, kind, version, json.loads(payload), expires_at, seconds)
        for _, lease_id, job_id, kind, version, payload, expires_at, seconds in rows
        if lease_id is not None
    ]


# The jobs behind these leases of the node, with the primaries of replicas, locked in id order
# (a primary's id is below its replicas'): the order every writer of job rows keeps. The
# leases are found by id alone, behind a MATERIALIZED fence, before the node filter: a plan
# that also used the node's index would read every lease the node ever held.
_LOCK_LEASE_JOBS = """
WITH asked AS MATERIALIZED (
    SELECT job_id, node_id FROM jobs_lease WHERE id = ANY(%(leases)s)
), own AS (
    SELECT job_id FROM asked WHERE node_id = %(node)s
)
SELECT j.id, j.kind, j.status FROM jobs_job j
WHERE j.id = ANY(ARRAY(
    SELECT job_id FROM own
    UNION
    SELECT rj.replica_of_id FROM own JOIN jobs_job rj ON rj.id = own.job_id
    WHERE rj.replica_of_id IS NOT NULL
))
ORDER BY j.id
FOR UPDATE
"""

# Read after the lock, in a new statement, so lease states are current (found by id first,
# as above).
_LEASES_WITH_RESULTS = """
WITH asked AS MATERIALIZED (
    SELECT id, job_id, node_id, state, leased_at FROM jobs_lease WHERE id = ANY(%(leases)s)
)
SELECT l.id, l.job_id, l.state, l.leased_at, r.id, r.output_sha256, r.status
FROM asked l LEFT JOIN jobs_jobresult r ON r.lease_id = l.id
WHERE l.node_id = %(node)s
"""


def lock_node_leases(node, lease_ids: list) -> tuple[dict[int, tuple], list[tuple]]:
    """Lock the jobs behind ``lease_ids`` (the node's own only), then read those leases.
    Returns ({job id: (kind, status)}, [(lease id, job id, state, leased_at, result id,
    result sha256, result status)])."""
    params = {"leases": lease_ids, "node": node.pk}
    locked, leases = _execute_pipelined(
        [(_LOCK_LEASE_JOBS, params), (_LEASES_WITH_RESULTS, params)]
    )
    return {job_id: (kind, status) for job_id, kind, status in locked}, leases


_STORE_RESULTS = """
WITH stored AS (
    INSERT INTO jobs_jobresult
        (job_id, node_id, lease_id, output, output_sha256, stats, status, rejection_reasons,
         created_at)
    SELECT job_id, %(node)s, lease_id, output, sha, stats, 'pending', '[]'::jsonb, %(now)s
    FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS given(job_id bigint, lease_id uuid, output jsonb, sha text, stats jsonb)
    LIMIT :count
    RETURNING id, lease_id, job_id
), ended AS (
    UPDATE jobs_lease SET state = 'submitted', ended_at = %(now)s
    WHERE id IN (SELECT lease_id FROM stored)
), validating AS (
    UPDATE jobs_job SET status = 'validating', lease_expires_at = NULL, updated_at = %(now)s
    WHERE id IN (SELECT job_id FROM stored)
)
SELECT lease_id, id FROM stored
"""


def store_results(node, accepted: list[tuple], now: datetime) -> dict:
    """Store accepted outputs, end their leases and send their jobs to validation, in one
    statement. ``accepted``: (job id, lease id, output, sha256, stats). {lease id: result id}."""
    return dict(_execute(*_store_statement(node, accepted, now)))


def _store_statement(node, accepted: list[tuple], now: datetime) -> tuple[str, dict]:
    """The rows go as one JSON document: psycopg took 30 µs per call to convert five array
    parameters, and takes 2 µs for one string.

    Their count is written into the statement as a LIMIT (one prepared statement per batch
    size) for the planner's sake: it expects 100 rows from a JSON document, and for 100 rows
    the generic plan found the leases and jobs to update by scanning both tables whole."""
    rows = [
        {"job_id": job_id, "lease_id": str(lease_id), "output": output, "sha": sha, "stats": stats}
        for job_id, lease_id, output, sha, stats in accepted
    ]
    statement = _STORE_RESULTS.replace(":count", str(len(rows)))
    return statement, {"node": node.pk, "now": now, "rows": json.dumps(rows)}


def store_and_lease(
    node, accepted: list[tuple], kinds: list[str], limit: int, now: datetime, *, commit: bool
) -> tuple[dict, list[tuple] | None]:
    """``store_results`` and then ``lease_queued`` (when there are ``kinds`` to lease), sent
    together in one round trip, with the transaction's COMMIT when ``commit`` is set.
    ({lease id: result id}, leased rows or None when overdue leases wait)."""
    statements = []
    if accepted:
        statements.append(_store_statement(node, accepted, now))
    if kinds:
        statements.append(_lease_statement(node, kinds, limit, now))
    if not statements:
        return {}, []
    answers = _execute_pipelined(statements, commit=commit)
    stored = dict(answers.pop(0)) if accepted else {}
    return stored, _granted(answers[0]) if kinds else []
