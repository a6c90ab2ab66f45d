"""No source stays stuck: a stage that fails marks its source failed with a reason its
submitter sees, the reconciler restarts a stage whose message was lost (a few times, then
fails it), and a failed or stuck source can be retried (admin, or by submitting it again).

A source is stuck when it sits in a stage that a worker should have finished
(``extracting``, ``received``, ``chunked``) for longer than ``SOURCE_STUCK_AFTER_SECONDS``;
``analysing`` waits for volunteer jobs, which the pipeline's own reconciler advances.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from alexandria.core.errors import ConflictError
from alexandria.core.tasking import Task, enqueue, send
from alexandria.sources.models import Source, SourceUpload

log = logging.getLogger(__name__)

Status = Source.Status
# The task that runs each stage a worker must finish, and what the stage is called.
STAGE_TASKS = {
    Status.EXTRACTING: (Task.EXTRACT_UPLOAD, "text extraction"),
    Status.RECEIVED: (Task.INGEST_SOURCE, "chunking"),
    Status.CHUNKED: (Task.INGEST_SOURCE, "planning of the analysis"),
}


def stuck_after(status: str) -> timedelta:
    """How long a source may sit in ``status`` before it counts as stuck: extraction may run
    for its whole time limit."""
    seconds = settings.SOURCE_STUCK_AFTER_SECONDS
    if status == Status.EXTRACTING:
        seconds += settings.SOURCE_EXTRACTION_SECONDS
    return timedelta(seconds=seconds)


def stuck_sources() -> QuerySet[Source]:
    """Sources waiting too long for a stage a worker should have finished."""
    now = timezone.now()
    waiting = Q()
    for status in STAGE_TASKS:
        waiting |= Q(status=status, updated_at__lt=now - stuck_after(status))
    return Source.objects.filter(waiting)


def fail_source(source_id: int, reason: str, *, stage: str | None = None) -> bool:
    """Mark a source failed with ``reason`` (shown to its submitter); False when it is gone
    or already past ``stage`` (a status: a later stage may have succeeded meanwhile)."""
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None or (stage is not None and source.status != stage):
            return False
        source.status = Status.FAILED
        source.failure_reason = reason
        source.save(update_fields=["status", "failure_reason", "updated_at"])
        # A failed extraction keeps no file: resubmitting it starts again.
        SourceUpload.objects.filter(source_id=source_id).delete()
    log.warning("source %s failed: %s", source_id, reason)
    return True


def redispatch_stuck_sources() -> int:
    """Restart the stage of every stuck source, or fail it once it has been restarted
    ``SOURCE_MAX_ATTEMPTS`` times; returns how many were restarted."""
    restarted = 0
    for source_id, status, attempts in stuck_sources().values_list("pk", "status", "attempts"):
        task, stage = STAGE_TASKS[Status(status)]
        if attempts >= settings.SOURCE_MAX_ATTEMPTS:
            fail_source(
                source_id,
                f"The {stage} did not finish after {attempts + 1} attempts. "
                "Moderators can retry it, or you can submit it again.",
                stage=status,
            )
            continue
        updated = Source.objects.filter(pk=source_id, status=status).update(
            attempts=attempts + 1, updated_at=timezone.now()
        )
        if updated:
            send(task, source_id)
            restarted += 1
    return restarted


def retry_source(source: Source) -> None:
    """Start a failed or stuck source over from the earliest stage it can.

    With its uploaded file still stored, extraction runs again; with its text, ingestion
    (chunks are derived from the text, so they are dropped and rebuilt). A purged source, or
    one whose analysis already produced facts, can't start over.
    """
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        stuck = stuck_sources().filter(pk=locked.pk).exists()
        if locked.status not in (Status.FAILED, Status.RECEIVED) and not stuck:
            raise ConflictError(
                "Only failed, stuck or received sources can be retried; this one is "
                f"{locked.status}."
            )
        if locked.is_purged:
            raise ConflictError("Its text has been purged, so it can't be ingested again.")
        if SourceUpload.objects.filter(source_id=locked.pk).exists():
            locked.status, task = Status.EXTRACTING, Task.EXTRACT_UPLOAD
        elif locked.sha256 is None:
            raise ConflictError("Its file is no longer stored: it must be submitted again.")
        elif locked.facts.exists():
            raise ConflictError(
                "Its analysis already produced facts; requeue the failed jobs instead."
            )
        else:
            locked.chunks.all().delete()
            locked.status, task = Status.RECEIVED, Task.INGEST_SOURCE
        locked.failure_reason = ""
        locked.attempts = 0
        locked.save(update_fields=["status", "failure_reason", "attempts", "updated_at"])
        enqueue(task, locked.pk)
    source.status = locked.status
    source.failure_reason = ""


def retry_if_stalled(source: Source) -> Source:
    """For a resubmission: retry the earlier copy if it failed or is stuck, rather than
    answer with a source that will never finish. Refusals leave it as it is."""
    stalled = source.status == Status.FAILED or stuck_sources().filter(pk=source.pk).exists()
    if stalled:
        try:
            retry_source(source)
        except ConflictError as exc:
            log.info("resubmitted source %s not retried: %s", source.pk, exc)
    return source
