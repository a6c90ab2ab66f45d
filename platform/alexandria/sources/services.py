"""Writes for sources: submission (refusing what was taken down), chunking, purging the
analysed text."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.core.errors import AlexandriaError, ConflictError, TooLargeError
from alexandria.core.tasking import Task, enqueue, send
from alexandria.sources.fingerprints import store_fingerprint
from alexandria.sources.models import Chunk, Source, Takedown, TakedownEvent
from alexandria.sources.selectors import takedown_refusing
from alexandria.textproc.extract import DocumentTooLargeError, ExtractionError, extract_text
from alexandria.textproc.normalize import normalize_text, sha256_hex
from alexandria.textproc.segment import chunk_text


class SubmissionRejected(AlexandriaError):
    """The submitted text can't become a source; ``code`` says why, the message says it kindly."""


class SubmissionTooLarge(SubmissionRejected, TooLargeError):
    """The submission is over SUBMISSION_MAX_BYTES (413)."""


class SubmissionTakenDown(SubmissionRejected, ConflictError):
    """The file, text or URL was taken down (409); the message names the takedown only."""

    code = "taken_down"

    def __init__(self, takedown: Takedown):
        super().__init__(
            f"This can't be submitted: it falls under takedown #{takedown.pk} of "
            f"{takedown.created_at:%Y-%m-%d} (by {takedown.get_scope_display()})."
        )
        self.takedown = takedown


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


def _refuse_if_taken_down(
    url: str, digests: tuple[str, ...], submitted_by: Contributor | None
) -> None:
    """Refuse (and log on the takedown) a submission that a takedown covers."""
    takedown = takedown_refusing(url=url, digests=digests)
    if takedown is not None:
        TakedownEvent.objects.create(
            takedown=takedown, action=TakedownEvent.Action.RESUBMISSION_REFUSED, actor=submitted_by
        )
        raise SubmissionTakenDown(takedown)


def submit_text(
    text: str,
    *,
    citation: Citation,
    submitted_by: Contributor | None,
    text_format: str = "text",
    file_sha256: str = "",
) -> SubmissionOutcome:
    """Store a text as a source; a text already known returns the existing source instead.

    ``file_sha256`` is the hash of the uploaded file the text came from (default: of the
    text's UTF-8). A takedown covering either hash or the URL refuses the submission.
    """
    encoded = text.encode("utf-8")
    _check_size(len(encoded))
    normalised = normalize_text(text)
    if not normalised:
        raise SubmissionRejected("The text is empty.", code="empty")
    digest = sha256_hex(normalised)
    digests = (file_sha256 or hashlib.sha256(encoded).hexdigest(), digest)
    _refuse_if_taken_down(citation.url, digests, submitted_by)
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
                file_sha256=digests[0],
                char_count=len(normalised),
                byte_size=len(normalised.encode("utf-8")),
                submitted_by=submitted_by,
                text=normalised,
            )
            # A takedown committed since the check above would miss this source: refuse it.
            refusing = takedown_refusing(url=citation.url, digests=digests)
            if refusing is not None:
                raise SubmissionTakenDown(refusing)
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
        file_sha256=hashlib.sha256(data).hexdigest(),
    )


def purge_texts(sources: QuerySet[Source]) -> int:
    """Delete the analysis copy of these sources' texts (citation, hash and anchors stay).

    The one writer of a purge; returns how many texts were still there to purge.

    Job payloads hold no text, only spans of it, filled in when a node leases the job
    (``jobs.services.payloads``), so a purge must strand no job that still needs the text.
    The rule: a source's text is purged only when none of its jobs is outstanding. Planning
    purges a source once its last job has finished (and marked it analysed first);
    ``purge_source_text`` refuses a source under analysis; whatever must remove the text
    sooner, a takedown, first cancels the source's outstanding jobs with the reason
    (``jobs.services.lifecycle.cancel_source_jobs``). Leasing holds the line whatever
    happens: a job whose source's text is gone is cancelled, never handed out, and a
    moderator can't requeue it.
    """
    return sources.filter(text_purged_at__isnull=True).update(
        text="", text_purged_at=timezone.now()
    )


def purge_source_text(source: Source) -> bool:
    """Purge one source's text; False when it was already purged. A source under analysis
    keeps it: its jobs still need it (``ConflictError``; a takedown removes it at once)."""
    purged = purge_texts(
        Source.objects.filter(pk=source.pk).exclude(status=Source.Status.ANALYSING)
    )
    source.refresh_from_db(fields=["text", "text_purged_at", "status"])
    if not purged and not source.is_purged:
        raise ConflictError(
            "Its analysis is still running, and its jobs need the text: it is purged when the "
            "analysis ends (a takedown removes it at once)."
        )
    return bool(purged)


def chunk_source(source_id: int) -> int:
    """Split a received source into sentence-aligned chunks and fingerprint its wording (before
    any job sees it, so the copyright gate holds from the first result); returns how many
    chunks exist."""
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None:  # taken down before ingestion
            return 0
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
        store_fingerprint(source)
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
