"""Periodic bookkeeping run by Celery beat (see tasks.schedule)."""

from celery import shared_task


@shared_task(name="tasks.maintenance.reconcile_pipeline")
def reconcile_pipeline() -> int:
    """Re-dispatch pipeline steps whose message was lost (e.g. Redis restarted)."""
    from alexandria.sources.services import redispatch_stalled_sources

    return redispatch_stalled_sources()


@shared_task(name="tasks.maintenance.purge_analysed_sources")
def purge_analysed_sources() -> int:
    """Delete analysis copies of sources whose analysis is finished (copyright retention)."""
    from alexandria.sources.services import purge_analysed_sources as purge

    return purge()
