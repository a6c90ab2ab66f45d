"""Periodic bookkeeping run by Celery beat (see tasks.schedule)."""

from celery import shared_task

from tasks.validation import resolve_replication, validate_results

# Results per re-dispatched validation message (one message per submit request otherwise).
VALIDATION_BATCH = 64


@shared_task(name="tasks.maintenance.reconcile_pipeline")
def reconcile_pipeline() -> int:
    """Re-dispatch pipeline steps whose message was lost (e.g. Redis restarted)."""
    from alexandria.pipeline.services.planning import redispatch_analysis
    from alexandria.sources.services import redispatch_stalled_sources

    return redispatch_stalled_sources() + redispatch_analysis()


@shared_task(name="tasks.maintenance.purge_analysed_sources")
def purge_analysed_sources() -> int:
    """Delete analysis copies of sources whose analysis is finished (copyright retention)."""
    from alexandria.sources.services import purge_analysed_sources as purge

    return purge()


@shared_task(name="tasks.maintenance.expire_leases")
def expire_leases() -> int:
    """End overdue leases nobody re-leased yet: count the attempt, requeue or dead-letter.
    Pure bookkeeping: leasing takes over overdue jobs itself."""
    from alexandria.jobs.services import expire_overdue_leases

    return expire_overdue_leases()


@shared_task(name="tasks.maintenance.vacuum_job_tables")
def vacuum_job_tables() -> list[str]:
    """Reclaim the job tables' dead rows before leasing slows down reading past them."""
    from alexandria.jobs.services import vacuum_job_tables as vacuum

    return vacuum()


@shared_task(name="tasks.maintenance.reconcile_validation")
def reconcile_validation() -> int:
    """Re-dispatch validation of results stuck pending and verdicts of replicated jobs whose
    replicas all ended (their messages were lost, e.g. Redis restarted)."""
    from alexandria.jobs.selectors import stale_pending_result_ids, stalled_replication_ids

    results = stale_pending_result_ids()
    for start in range(0, len(results), VALIDATION_BATCH):
        validate_results.delay(results[start : start + VALIDATION_BATCH])
    jobs = stalled_replication_ids()
    for job_id in jobs:
        resolve_replication.delay(job_id)
    return len(results) + len(jobs)
