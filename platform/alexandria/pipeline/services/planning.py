"""The order of the analysis: which jobs a source gets, and when the next stage starts.

Stages: extract_graph per chunk, describe and rate_age per part of the whole text (planned
with the chunks; ``services.profile`` combines the parts), clip_embed for the figures of an
upload (``figures.services.ingestion``; the analysis ends only after them too) → entity
resolution (lexical pass plus resolve_entities jobs) → derive and reconstruct → support (one
verify_support job per stored item, created as derive results are applied) → purge of the
source text. ``advance_source`` is idempotent: it looks at what exists and creates only what
is missing, so handlers and the reconciler may call it any number of times.

Job payloads never copy the source's text: they refer to spans of it, which the server
hydrates when a node leases the job (``jobs.services.payloads``). The text is purged once the
last job is finished; a job can't be leased after that (``sources.services.purge_texts``).
"""

from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from alexandria.core.tasking import Task, enqueue, send
from alexandria.figures.services.ingestion import plan_clip_jobs
from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import FINISHED, create_job
from alexandria.jobs.services.payloads import span
from alexandria.pipeline.models import SourceProfile
from alexandria.pipeline.services.derivation import plan_derivation
from alexandria.pipeline.services.resolution import resolve_source_entities
from alexandria.pipeline.services.support import reject_unverified
from alexandria.sources.models import Source
from alexandria.sources.services import purge_source_text
from alexandria.textproc.language import language_code
from alexandria.textproc.phrases import candidate_anchors, candidate_entities
from jobkinds import (
    derive,
    describe,
    extract_graph,
    rate_age,
    reconstruct,
    resolve_entities,
    verify_support,
)

# extract_graph jobs run first; profile jobs early so they finish alongside the graph.
GRAPH_PRIORITY = 10
PROFILE_PRIORITY = 5
LATER_PRIORITY = 20


class Stage(StrEnum):
    NOT_STARTED = "not_started"
    GRAPH = "graph"
    RESOLUTION = "resolution"
    DERIVATION = "derivation"
    SUPPORT = "support"
    DONE = "done"
    TAKEN_DOWN = "taken_down"


def _excerpt_end(text: str, start: int, limit: int) -> int:
    """Where an excerpt of the text from ``start`` ends: at the last space within ``limit``."""
    if len(text) - start <= limit:
        return len(text)
    cut = text.rfind(" ", start, start + limit)
    return cut if cut > start + limit // 2 else start + limit


def profile_parts(text: str, limit: int) -> list[tuple[int, int]]:
    """The whole text in consecutive parts of at most ``limit`` characters, each starting at
    a non-space, for the whole-text profile (one describe and one rate_age job per part, so a
    passage anywhere in a book reaches its age rating)."""
    parts = []
    start = len(text) - len(text.lstrip())
    while start < len(text):
        end = _excerpt_end(text, start, limit)
        if text[start:end].strip():
            parts.append((start, end))
        start = end + (len(text[end:]) - len(text[end:].lstrip()))
    return parts


def _spans_of(pieces: list[str], text: str, offset: int) -> list[dict]:
    """Spans of ``pieces``, each an exact substring of ``text`` (which starts at ``offset`` of
    the source's text): the first occurrence, which reads the same."""
    spans = []
    for piece in pieces:
        at = text.find(piece)
        if at < 0:
            raise ValueError(f"a candidate is not a substring of its chunk: {piece[:40]!r}")
        spans.append(span(offset + at, offset + at + len(piece)))
    return spans


def _fitting(pieces: list[str], max_chars: int) -> list[str]:
    """The pieces the kind's input schema accepts (planning trims what it offers, rather
    than fail a source over a payload it made itself)."""
    return [piece for piece in pieces if 0 < len(piece) <= max_chars]


def plan_analysis(source_id: int) -> int:
    """Create the first jobs of a chunked source and mark it analysing; how many were created.

    The payloads refer to spans of the source's text (``jobs.services.payloads``): the text
    stays in the source's row alone, and goes to a node only with a lease.
    """
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None or source.status != Source.Status.CHUNKED:  # None: taken down
            return 0
        text = source.text
        language = language_code(source.language)
        created = 0
        for chunk in source.chunks.order_by("index"):
            chunk_text = text[chunk.start : chunk.end]
            anchors = _fitting(
                candidate_anchors(chunk_text, extract_graph.ANCHOR_MAX_CHARS),
                extract_graph.ANCHOR_MAX_CHARS,
            )
            # Over-long "names" (a URL, a base64 blob) are no name a node could return.
            names = _fitting(
                candidate_entities(chunk_text, language=language), extract_graph.NAME_MAX_CHARS
            )
            payload = {
                "source_title": source.title,
                "chunk_index": chunk.index,
                "chunk_start": chunk.start,
                "chunk_end": chunk.end,
                "context_before": span(chunk.context_start, chunk.start),
                "chunk": span(chunk.start, chunk.end),
                "context_after": span(chunk.end, chunk.context_end),
                "prompt_version": extract_graph.PROMPT_VERSION,
                "language": language,
                # What constrained decoding lets a node quote and name (exact substrings).
                "anchor_candidates": _spans_of(anchors, chunk_text, chunk.start),
                "entity_candidates": _spans_of(names, chunk_text, chunk.start),
            }
            create_job(extract_graph.KIND.name, payload, source=source, priority=GRAPH_PRIORITY)
            created += 1
        for kind in (describe, rate_age):
            for start, end in profile_parts(text, kind.EXCERPT_MAX_CHARS):
                payload = {
                    "source_title": source.title,
                    "excerpt": span(start, end),
                    "prompt_version": kind.PROMPT_VERSION,
                }
                create_job(kind.KIND.name, payload, source=source, priority=PROFILE_PRIORITY)
                created += 1
        created += plan_clip_jobs(source, priority=PROFILE_PRIORITY)
        SourceProfile.objects.get_or_create(source=source)
        source.status = Source.Status.ANALYSING
        source.save(update_fields=["status", "updated_at"])
    return created


def _unfinished(source: Source, kinds: tuple[str, ...] | None = None) -> bool:
    jobs = Job.objects.filter(source=source).exclude(status__in=FINISHED)
    if kinds is not None:
        jobs = jobs.filter(kind__in=kinds)
    return jobs.exists()


def advance_source(source_id: int) -> Stage:
    """Start whatever stage of the source's analysis is due; returns the stage it is in."""
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id).first()
        if source is None:
            return Stage.TAKEN_DOWN
        if source.status == Source.Status.ANALYSED:
            return Stage.DONE
        if source.status != Source.Status.ANALYSING:
            return Stage.NOT_STARTED
        if _unfinished(source, (extract_graph.KIND.name,)):
            return Stage.GRAPH
        profile, _ = SourceProfile.objects.get_or_create(source=source)
        if profile.entities_resolved_at is None:
            resolve_source_entities(source, priority=LATER_PRIORITY)
            profile.entities_resolved_at = timezone.now()
            profile.save(update_fields=["entities_resolved_at", "updated_at"])
        if _unfinished(source, (resolve_entities.KIND.name,)):
            return Stage.RESOLUTION
        later = (derive.KIND.name, reconstruct.KIND.name)
        if not Job.objects.filter(source=source, kind__in=later).exists():
            plan_derivation(source, priority=LATER_PRIORITY)
        if _unfinished(source, later):
            return Stage.DERIVATION
        if _unfinished(source, (verify_support.KIND.name,)):
            return Stage.SUPPORT
        if _unfinished(source):
            return Stage.DERIVATION
        finish_analysis(source)
        return Stage.DONE


def finish_analysis(source: Source) -> None:
    """Every job is finished (and the reconstruction scored): mark the source analysed and
    purge its text. No job needing the text is left, and none can be leased after this
    (``sources.services.purge_texts`` says why); items whose verify_support job failed can't be
    verified any more and are rejected."""
    reject_unverified(source)
    source.status = Source.Status.ANALYSED
    source.save(update_fields=["status", "updated_at"])
    purge_source_text(source)


def redispatch_analysis() -> int:
    """Advance every analysing source; returns how many tasks were enqueued.

    Covers lost messages and jobs that ended without a result (dead-lettered or cancelled),
    which no handler's ``apply`` reports. The stages before analysis are the sources app's
    (``sources.recovery.redispatch_stuck_sources``).
    """
    analysing = list(
        Source.objects.filter(status=Source.Status.ANALYSING)
        .order_by("updated_at")
        .values_list("pk", flat=True)
    )
    for source_id in analysing:
        send(Task.ADVANCE_SOURCE, source_id)
    return len(analysing)


def enqueue_advance(source_id: int) -> None:
    """Advance the source once the current transaction commits."""
    enqueue(Task.ADVANCE_SOURCE, source_id)
