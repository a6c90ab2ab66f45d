"""The job exchange's Celery tasks: validation of results, and the periodic bookkeeping."""

from alexandria.core.tasking import Task, send, task
from alexandria.jobs import selectors, validation
from alexandria.jobs.services import leasing, maintenance

# Results per re-dispatched validation message (one message per submit request otherwise).
VALIDATION_BATCH = 64


@task(Task.VALIDATE_RESULTS)
def validate_results(result_ids: list[int]) -> None:
    """Validate submitted results (one message per submit request), then apply/credit each or
    ask for a replica. Idempotent, so a retry after a partial run is safe."""
    for result_id in result_ids:
        validation.validate_result(result_id)


@task(Task.RESOLVE_REPLICATION)
def resolve_replication(job_id: int) -> None:
    """Decide a replicated job whose replica ended without a usable result (idempotent)."""
    validation.resolve_replication(job_id)


@task(Task.EXPIRE_LEASES, retry=False)
def expire_leases() -> int:
    """End overdue leases nobody re-leased yet: count the attempt, requeue or dead-letter.
    Pure bookkeeping: leasing takes over overdue jobs itself."""
    return leasing.expire_overdue_leases()


@task(Task.VACUUM_JOB_TABLES, retry=False)
def vacuum_job_tables() -> list[str]:
    """Reclaim the job tables' dead rows before leasing slows down reading past them."""
    return maintenance.vacuum_job_tables()


@task(Task.RECONCILE_VALIDATION, retry=False)
def reconcile_validation() -> int:
    """Re-dispatch validation of results stuck pending and verdicts of replicated jobs whose
    replicas all ended (their messages were lost, e.g. Redis restarted)."""
    results = selectors.stale_pending_result_ids()
    for start in range(0, len(results), VALIDATION_BATCH):
        send(Task.VALIDATE_RESULTS, results[start : start + VALIDATION_BATCH])
    jobs = selectors.stalled_replication_ids()
    for job_id in jobs:
        send(Task.RESOLVE_REPLICATION, job_id)
    return len(results) + len(jobs)
