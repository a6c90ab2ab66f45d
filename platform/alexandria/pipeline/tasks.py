"""The pipeline's Celery tasks: each takes a source id and calls a service."""

import logging

from alexandria.core.tasking import RETRY_POLICY, Task, task
from alexandria.pipeline.services import planning
from alexandria.sources import recovery
from alexandria.sources import services as sources

log = logging.getLogger(__name__)


@task(Task.INGEST_SOURCE)
def ingest_source(source_id: int) -> None:
    """Chunk a new source and plan its first jobs (idempotent: each step runs once).

    A step that fails for any reason but a transient one (retried) fails the source with the
    reason, instead of leaving it in a stage nothing will move it out of.
    """
    try:
        sources.chunk_source(source_id)
        planning.plan_analysis(source_id)
    except RETRY_POLICY["autoretry_for"]:
        raise
    except Exception as exc:
        log.exception("ingestion of source %s failed", source_id)
        recovery.fail_source(
            source_id,
            f"Preparing its analysis failed ({type(exc).__name__}); moderators have been told "
            "and can retry it.",
        )


@task(Task.ADVANCE_SOURCE)
def advance_source(source_id: int) -> str:
    """Start the next stage of a source's analysis if the current one is complete."""
    return planning.advance_source(source_id).value


@task(Task.RECONCILE_PIPELINE, retry=False)
def reconcile_pipeline() -> int:
    """Re-dispatch pipeline steps whose message was lost (e.g. Redis restarted), and fail
    sources whose stage keeps not finishing."""
    return recovery.redispatch_stuck_sources() + planning.redispatch_analysis()
