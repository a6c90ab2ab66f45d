"""Writes for sources: submission, chunking, purging the analysed text."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.core.errors import AlexandriaError, ConflictError, TooLargeError
from alexandria.core.tasking import Task, enqueue, send
from alexandria.sources.models import Chunk, Source
from alexandria.textproc.extract import DocumentTooLargeError, ExtractionError, extract_text
from alexandria.textproc.normalize import normalize_text, sha256_hex
from alexandria.textproc.segment import chunk_text


class SubmissionRejected(AlexandriaError):
    """The submitted text can't become a source; ``code`` says why, the message says it kindly."""


class SubmissionTooLarge(SubmissionRejected, TooLargeError):
    """The submission is over SUBMISSION_MAX_BYTES (413)."""


@dataclass(frozen=True)
class Citation:
    title: str = ""
    authors: str = ""
    url: str = ""
    doi: str = ""
    licence_note: str = ""
    language: str = ""


@dataclass(frozen=True)
class SubmissionOutcome:
    source: Source
    duplicate: bool


def _check_size(byte_size: int) -> None:
    if byte_size > settings.SUBMISSION_MAX_BYTES:
        raise SubmissionTooLarge(
            f"The text is {byte_size:,} bytes; the limit is {settings.SUBMISSION_MAX_BYTES:,} "
            "bytes. Split it into parts and submit them separately."
        )


def submit_text(
    text: str, *, citation: Citation, submitted_by: Contributor | None, text_format: str = "text"
) -> SubmissionOutcome:
    """Store a text as a source; a text already known returns the existing source instead."""
    _check_size(len(text.encode("utf-8")))
    normalised = normalize_text(text)
    if not normalised:
        raise SubmissionRejected("The text is empty.", code="empty")
    digest = sha256_hex(normalised)
    existing = Source.objects.filter(sha256=digest).first()
    if existing is not None:
        return SubmissionOutcome(existing, duplicate=True)
    title = citation.title.strip() or normalised.split("\n", 1)[0][:200]
    try:
        with transaction.atomic():
            source = Source.objects.create(
                title=title,
                authors=citation.authors,
                url=citation.url,
                doi=citation.doi,
                licence_note=citation.licence_note,
                language=citation.language,
                format=text_format,
                sha256=digest,
                char_count=len(normalised),
                byte_size=len(normalised.encode("utf-8")),
                submitted_by=submitted_by,
                text=normalised,
            )
            enqueue(Task.INGEST_SOURCE, source.pk)
    except IntegrityError:
        # The same text arrived concurrently; the other request stored it.
        return SubmissionOutcome(Source.objects.get(sha256=digest), duplicate=True)
    return SubmissionOutcome(source, duplicate=False)


def submit_upload(
    data: bytes,
    *,
    content_type: str | None,
    filename: str | None,
    citation: Citation,
    submitted_by: Contributor | None,
) -> SubmissionOutcome:
    """Extract the text of an uploaded file (text, Markdown, HTML, PDF) and submit it."""
    _check_size(len(data))
    try:
        document = extract_text(
            data,
            content_type=content_type,
            filename=filename,
            max_bytes=settings.SUBMISSION_MAX_BYTES,
        )
    except DocumentTooLargeError as exc:
        raise SubmissionTooLarge(str(exc)) from exc
    except ExtractionError as exc:
        raise SubmissionRejected(str(exc), code=exc.code) from exc
    if not citation.title and document.title_hint:
        citation = Citation(**{**citation.__dict__, "title": document.title_hint})
    return submit_text(
        document.text,
        citation=citation,
        submitted_by=submitted_by,
        text_format=document.detected_format,
    )


def purge_texts(sources: QuerySet[Source]) -> int:
    """Delete the analysis copy of these sources' texts (citation, hash and anchors stay).

    The one writer of a purge; returns how many texts were still there to purge.
    """
    return sources.filter(text_purged_at__isnull=True).update(
        text="", text_purged_at=timezone.now()
    )


def purge_source_text(source: Source) -> bool:
    """Purge one source's text; False when it was already purged."""
    purged = purge_texts(Source.objects.filter(pk=source.pk))
    source.refresh_from_db(fields=["text", "text_purged_at"])
    return bool(purged)


def chunk_source(source_id: int) -> int:
    """Split a received source into sentence-aligned chunks; returns how many exist."""
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source_id)
        if source.status != Source.Status.RECEIVED:
            return source.chunks.count()
        spans = chunk_text(
            source.text,
            target_words=settings.CHUNK_TARGET_WORDS,
            context_chars=settings.CHUNK_CONTEXT_CHARS,
        )
        Chunk.objects.bulk_create(
            Chunk(
                source=source,
                index=span.index,
                start=span.start,
                end=span.end,
                context_start=span.context_start,
                context_end=span.context_end,
            )
            for span in spans
        )
        source.status = Source.Status.CHUNKED
        source.save(update_fields=["status", "updated_at"])
    return len(spans)


def redispatch_stalled_sources(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Re-enqueue ingestion of sources still waiting long after submission."""
    cutoff = timezone.now() - older_than
    stalled = list(
        Source.objects.filter(status=Source.Status.RECEIVED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for source_id in stalled:
        send(Task.INGEST_SOURCE, source_id)
    return len(stalled)


def purge_analysed_sources() -> int:
    """Purge the text of every analysed source that still holds it."""
    return purge_texts(Source.objects.filter(status=Source.Status.ANALYSED))


def requeue_ingestion(source: Source) -> None:
    """Run ingestion again for a source that failed or never left ``received``.

    Chunks are derived from the retained text, so a failed source's chunks are dropped and
    rebuilt. A purged source, or one whose analysis already produced facts, can't start over.
    """
    with transaction.atomic():
        locked = (
            Source.objects.select_for_update()
            .only("pk", "status", "text_purged_at")
            .get(pk=source.pk)
        )
        if locked.status not in (Source.Status.FAILED, Source.Status.RECEIVED):
            raise ConflictError(
                f"Only failed or received sources can be requeued; this one is {locked.status}."
            )
        if locked.is_purged:
            raise ConflictError("Its text has been purged, so it can't be ingested again.")
        if locked.facts.exists():
            raise ConflictError(
                "Its analysis already produced facts; requeue the failed jobs instead."
            )
        locked.chunks.all().delete()
        locked.status = Source.Status.RECEIVED
        locked.save(update_fields=["status", "updated_at"])
        enqueue(Task.INGEST_SOURCE, locked.pk)
    source.status = locked.status
