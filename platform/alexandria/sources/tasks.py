"""The sources app's Celery tasks."""

from alexandria.core.tasking import Task, task
from alexandria.sources import services


@task(Task.PURGE_ANALYSED_SOURCES, retry=False)
def purge_analysed_sources() -> int:
    """Delete analysis copies of sources whose analysis is finished (copyright retention)."""
    return services.purge_analysed_sources()
