"""Validation of results submitted by volunteer nodes. Tasks take ids and call services."""

from celery import shared_task
from django.db import OperationalError

RETRY_POLICY = {
    # Lock timeouts, deadlocks and dropped connections: the transaction rolled back, retry it.
    "autoretry_for": (OperationalError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="tasks.validation.validate_results", **RETRY_POLICY)
def validate_results(result_ids: list[int]) -> None:
    """Validate submitted results (one message per submit request), then apply/credit each or
    ask for a replica. Idempotent, so a retry after a partial run is safe."""
    from alexandria.jobs.validation import validate_result

    for result_id in result_ids:
        validate_result(result_id)


@shared_task(name="tasks.validation.resolve_replication", **RETRY_POLICY)
def resolve_replication(job_id: int) -> None:
    """Decide a replicated job whose replica ended without a usable result (idempotent)."""
    from alexandria.jobs.validation import resolve_replication as resolve

    resolve(job_id)
