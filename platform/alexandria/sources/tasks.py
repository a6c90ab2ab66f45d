"""The sources app's Celery tasks."""

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from alexandria.core.tasking import Task, task
from alexandria.sources import services, uploads


@task(Task.PURGE_ANALYSED_SOURCES, retry=False)
def purge_analysed_sources() -> int:
    """Delete analysis copies of sources whose analysis is finished (copyright retention)."""
    return services.purge_analysed_sources()


@task(
    Task.EXTRACT_UPLOAD,
    soft_time_limit=settings.SOURCE_EXTRACTION_SECONDS,
    # The hard limit kills a worker that ignores the soft one; the reconciler retries.
    time_limit=settings.SOURCE_EXTRACTION_SECONDS + 30,
)
def extract_upload(source_id: int) -> str:
    """Extract an uploaded file's text under the time limit, then queue its ingestion."""
    try:
        return uploads.extract_upload(source_id)
    except SoftTimeLimitExceeded:
        uploads.fail_extraction_overtime(source_id)
        return "failed"
