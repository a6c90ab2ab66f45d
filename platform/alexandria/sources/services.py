"""Writes for sources: submission (refusing what was taken down; uploads are extracted by
``sources.uploads``), chunking, purging the analysed text. Failed and stuck sources:
``sources.recovery``."""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.core.errors import AlexandriaError, ConflictError, TooLargeError
from alexandria.core.fields import has_visible_text
from alexandria.core.tasking import Task, enqueue
from alexandria.sources.fingerprints import store_fingerprint
from alexandria.sources.models import Chunk, Source, SourceUpload, Takedown, TakedownEvent
from alexandria.sources.recovery import retry_if_stalled
from alexandria.sources.selectors import takedown_refusing
from alexandria.sources.signals import texts_purging
from alexandria.textproc.extract import ExtractionError, check_utf8, detect_format
from alexandria.textproc.language import detect_language
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
    if not has_visible_text(normalised):  # empty, or zero-width characters only
        raise SubmissionRejected("The text is empty: it has no visible characters.", code="empty")
    digest = sha256_hex(normalised)
    digests = (file_sha256 or hashlib.sha256(encoded).hexdigest(), digest)
    _refuse_if_taken_down(citation.url, digests, submitted_by)
    existing = Source.objects.filter(sha256=digest).first()
    if existing is not None:
        return SubmissionOutcome(retry_if_stalled(existing), duplicate=True)
    title = citation.title.strip() if has_visible_text(citation.title) else ""
    title = title or _first_visible_line(normalised)[:200]
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


def _first_visible_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if has_visible_text(line)), "")


def submit_upload(
    data: bytes,
    *,
    content_type: str | None,
    filename: str | None,
    citation: Citation,
    submitted_by: Contributor | None,
) -> SubmissionOutcome:
    """Store an uploaded file (text, Markdown, HTML, PDF) as a source whose text a worker
    extracts (``sources.uploads``): the request costs time linear in the file's size, never
    the extraction's. A file already submitted returns that source (retried if it failed)."""
    _check_size(len(data))
    try:
        document_format = detect_format(data, content_type, filename)
        if document_format != "pdf":
            check_utf8(data)
    except ExtractionError as exc:
        raise SubmissionRejected(str(exc), code=exc.code) from exc
    if not data.strip():
        raise SubmissionRejected("The file is empty.", code="empty")
    file_digest = hashlib.sha256(data).hexdigest()
    _refuse_if_taken_down(citation.url, (file_digest,), submitted_by)
    upload = {
        "data": data,
        "content_type": (content_type or "")[:255],
        "filename": (filename or "")[:255],
        "title_given": bool(citation.title.strip()),
    }
    existing = Source.objects.filter(file_sha256=file_digest).order_by("pk").first()
    if existing is not None:
        if existing.status == Source.Status.FAILED and existing.sha256 is None:
            # Its extraction failed and its file was deleted: this copy brings it back.
            SourceUpload.objects.update_or_create(source=existing, defaults=upload)
        return SubmissionOutcome(retry_if_stalled(existing), duplicate=True)
    with transaction.atomic():
        source = Source.objects.create(
            title=citation.title.strip() or (filename or "Uploaded file")[:200],
            authors=citation.authors,
            url=citation.url,
            doi=citation.doi,
            licence_note=citation.licence_note,
            language=citation.language,
            format=document_format,
            sha256=None,
            file_sha256=file_digest,
            char_count=0,
            byte_size=len(data),
            status=Source.Status.EXTRACTING,
            submitted_by=submitted_by,
        )
        SourceUpload.objects.create(source=source, **upload)
        enqueue(Task.EXTRACT_UPLOAD, source.pk)
    return SubmissionOutcome(source, duplicate=False)


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
    moderator can't requeue it. What other apps keep for the analysis (figures' images) goes
    with the text (``signals.texts_purging``).
    """
    texts_purging.send(sender=Source, sources=sources)
    SourceUpload.objects.filter(source__in=sources).delete()
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
    any job sees it, so the copyright gate holds from the first result), and detect its
    language when the member gave none; returns how many chunks exist."""
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
        if not source.language:  # the member's declaration wins over the detector
            source.language = detect_language(source.text)
        source.status = Source.Status.CHUNKED
        source.save(update_fields=["status", "language", "updated_at"])
    return len(spans)


def purge_analysed_sources() -> int:
    """Purge the text of every analysed source that still holds it."""
    return purge_texts(Source.objects.filter(status=Source.Status.ANALYSED))
