"""The pipeline's Celery tasks: each takes a source id and calls a service."""

from alexandria.core.tasking import Task, task
from alexandria.pipeline.services import planning
from alexandria.sources import services as sources


@task(Task.INGEST_SOURCE)
def ingest_source(source_id: int) -> None:
    """Chunk a new source and plan its first jobs (idempotent: each step runs once)."""
    sources.chunk_source(source_id)
    planning.plan_analysis(source_id)


@task(Task.ADVANCE_SOURCE)
def advance_source(source_id: int) -> str:
    """Start the next stage of a source's analysis if the current one is complete."""
    return planning.advance_source(source_id).value


@task(Task.RECONCILE_PIPELINE, retry=False)
def reconcile_pipeline() -> int:
    """Re-dispatch pipeline steps whose message was lost (e.g. Redis restarted)."""
    return sources.redispatch_stalled_sources() + planning.redispatch_analysis()
