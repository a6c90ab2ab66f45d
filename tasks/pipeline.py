"""Server-side pipeline steps. Each task takes an id and calls a service."""

from celery import shared_task

RETRY_POLICY = {
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="tasks.pipeline.ingest_source", **RETRY_POLICY)
def ingest_source(source_id: int) -> None:
    """Chunk a new source and plan its first jobs (idempotent: each step runs once)."""
    from alexandria.pipeline.services.planning import plan_analysis
    from alexandria.sources.services import chunk_source

    chunk_source(source_id)
    plan_analysis(source_id)


@shared_task(name="tasks.pipeline.advance_source", **RETRY_POLICY)
def advance_source(source_id: int) -> str:
    """Start the next stage of a source's analysis if the current one is complete."""
    from alexandria.pipeline.services.planning import advance_source as advance

    return advance(source_id).value
