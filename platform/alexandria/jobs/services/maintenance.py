"""Upkeep of the job tables that no request waits for."""

from django.conf import settings
from django.db import connection

from alexandria.jobs.models import Job, JobResult, Lease


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
