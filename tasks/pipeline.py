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
    """Split a new source into chunks (idempotent: a chunked source is left alone)."""
    from alexandria.sources.services import chunk_source

    chunk_source(source_id)
