"""Extraction of uploaded files, run by a worker under a time limit (``Task.EXTRACT_UPLOAD``).

The API only stores the file (``services.submit_upload``). Here its text is extracted with
the limits from settings, and then the source goes on as a submitted text would: the same
takedown and duplicate checks, then ingestion. Whatever the outcome, the stored file is
deleted, and a refusal fails the source with the reason its submitter is shown.
"""

from django.conf import settings
from django.db import IntegrityError, transaction

from alexandria.core.tasking import Task, enqueue
from alexandria.sources.models import Source, SourceUpload, Takedown, TakedownEvent
from alexandria.sources.recovery import fail_source, retry_if_stalled
from alexandria.sources.selectors import takedown_refusing
from alexandria.sources.signals import upload_extracted
from alexandria.textproc.extract import (
    ExtractedDocument,
    ExtractionError,
    ExtractionLimits,
    extract_text,
)
from alexandria.textproc.figures import FigureLimits
from alexandria.textproc.normalize import sha256_hex

Status = Source.Status


def extraction_limits() -> ExtractionLimits:
    return ExtractionLimits(
        max_chars=settings.SUBMISSION_MAX_BYTES,
        pdf_max_pages=settings.PDF_MAX_PAGES,
        pdf_max_expansion=settings.PDF_MAX_EXPANSION,
        pdf_max_stream_bytes=settings.PDF_MAX_STREAM_BYTES,
        # The worker's soft limit stops the rest; this also holds where tasks run in-process.
        pdf_max_seconds=settings.SOURCE_EXTRACTION_SECONDS,
    )


def figure_limits() -> FigureLimits:
    return FigureLimits(
        max_figures=settings.FIGURES_MAX_PER_SOURCE,
        min_side=settings.FIGURE_MIN_SIDE,
        max_bytes=settings.FIGURE_MAX_BYTES,
    )


def extract_upload(source_id: int) -> str:
    """Extract an extracting source's file and hand it to ingestion; returns the status it
    ends in ("" when there was nothing to extract)."""
    upload = (
        SourceUpload.objects.filter(source_id=source_id, source__status=Status.EXTRACTING)
        .only("data", "content_type", "filename")
        .first()
    )
    if upload is None:
        if Source.objects.filter(pk=source_id, status=Status.EXTRACTING).exists():
            fail_source(
                source_id,
                "The uploaded file is no longer stored; please submit it again.",
                stage=Status.EXTRACTING,
            )
            return Status.FAILED
        return ""
    try:
        document = extract_text(
            bytes(upload.data),
            content_type=upload.content_type or None,
            filename=upload.filename or None,
            max_bytes=settings.SUBMISSION_MAX_BYTES,
            limits=extraction_limits(),
            figure_limits=figure_limits(),
        )
    except ExtractionError as exc:
        fail_source(source_id, exc.message, stage=Status.EXTRACTING)
        return Status.FAILED
    if len(document.text.encode("utf-8")) > settings.SUBMISSION_MAX_BYTES:
        fail_source(
            source_id,
            f"The file's text is over the {settings.SUBMISSION_MAX_BYTES:,}-byte limit; split "
            "it into parts and submit them separately.",
            stage=Status.EXTRACTING,
        )
        return Status.FAILED
    return _store_text(source_id, document)


def fail_extraction_overtime(source_id: int) -> None:
    """The worker's time limit stopped the extraction."""
    fail_source(
        source_id,
        f"Extracting the file's text took longer than {settings.SOURCE_EXTRACTION_SECONDS} "
        "seconds, so it was stopped. Try a smaller or simpler file.",
        stage=Status.EXTRACTING,
    )


def _store_text(source_id: int, document: ExtractedDocument) -> str:
    """Give the source its text, unless a takedown or an earlier copy of the text stands in
    the way (the apps that keep more of the document, its figures, hear of it:
    ``signals.upload_extracted``); then queue its ingestion."""
    digest = sha256_hex(document.text)
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None or source.status != Status.EXTRACTING:
            return ""
        title_given = (
            SourceUpload.objects.filter(source=source).values_list("title_given", flat=True).first()
        )
        takedown = takedown_refusing(url=source.url, digests=(source.file_sha256, digest))
        earlier = Source.objects.filter(sha256=digest).exclude(pk=source.pk).first()
        if takedown is not None or earlier is not None:
            reason = _refusal(source, takedown, earlier)
        else:
            source.text = document.text
            source.sha256 = digest
            source.char_count = len(document.text)
            source.byte_size = len(document.text.encode("utf-8"))
            source.format = document.detected_format
            if not title_given:
                source.title = (document.title_hint or document.text.split("\n", 1)[0])[:200]
            source.status = Status.RECEIVED
            source.attempts = 0
            try:
                with transaction.atomic():
                    source.save()
            except IntegrityError:  # the same text was stored concurrently
                reason = "The same text was submitted at the same time; it is analysed once."
            else:
                upload_extracted.send(sender=Source, source=source, document=document)
                SourceUpload.objects.filter(source=source).delete()
                enqueue(Task.INGEST_SOURCE, source.pk)
                return Status.RECEIVED
    fail_source(source_id, reason, stage=Status.EXTRACTING)
    if earlier is not None:
        retry_if_stalled(earlier)
    return Status.FAILED


def _refusal(source: Source, takedown: Takedown | None, earlier: Source | None) -> str:
    if takedown is not None:
        TakedownEvent.objects.create(
            takedown=takedown,
            action=TakedownEvent.Action.RESUBMISSION_REFUSED,
            actor_id=source.submitted_by_id,
        )
        return (
            f"This can't be submitted: it falls under takedown #{takedown.pk} of "
            f"{takedown.created_at:%Y-%m-%d} (by {takedown.get_scope_display()})."
        )
    if earlier.submitted_by_id is not None and earlier.submitted_by_id == source.submitted_by_id:
        return f"You already submitted this text as source #{earlier.pk}."
    return "This text is already in Alexandria (another member submitted it)."
