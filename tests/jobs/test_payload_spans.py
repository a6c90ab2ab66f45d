"""Job payloads store spans of their source's text, never copies: the text goes in when a node
leases the job (lease and exchange, both queue paths), and not at all once it is purged."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alexandria.core.errors import ConflictError
from alexandria.jobs.errors import InvalidInput
from alexandria.jobs.models import Job, JobEvent, JobResult, Lease
from alexandria.jobs.services.lifecycle import (
    UNCHECKED_OUTPUT,
    cancel_source_jobs,
    canonical_json,
    create_job,
    requeue_job,
)
from alexandria.jobs.services.payloads import SPANS_OF, span
from alexandria.pipeline.services.planning import plan_analysis
from alexandria.retention.audit import string_leaves
from alexandria.sources.models import Source
from alexandria.sources.services import (
    Citation,
    chunk_source,
    purge_source_text,
    purge_texts,
    submit_text,
)
from alexandria.textproc.phrases import candidate_anchors, candidate_entities
from jobkinds import describe, extract_graph, rate_age
from tests.pipeline.documents import CURIE, CURIE_TITLE

pytestmark = pytest.mark.usefixtures("queue_path")

PIPELINE_KINDS = ("extract_graph", "describe", "rate_age")


@pytest.fixture
def planned_source(db, settings) -> Source:
    """CURIE in several chunks, its first jobs planned (extract_graph per chunk, describe,
    rate_age)."""
    settings.CHUNK_TARGET_WORDS = 40
    settings.CHUNK_CONTEXT_CHARS = 120
    source = submit_text(CURIE, citation=Citation(title=CURIE_TITLE), submitted_by=None).source
    chunk_source(source.pk)
    plan_analysis(source.pk)
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSING and source.chunks.count() > 1
    return source


def node_facing(job: Job, source: Source) -> dict:
    """The payload as planning built it before payloads held spans: copies of the text."""
    text = source.text
    if job.kind == extract_graph.KIND.name:
        chunk = source.chunks.get(index=job.payload["chunk_index"])
        chunk_text = text[chunk.start : chunk.end]
        return {
            "source_title": CURIE_TITLE,
            "chunk_index": chunk.index,
            "chunk_start": chunk.start,
            "chunk_end": chunk.end,
            "context_before": text[chunk.context_start : chunk.start],
            "chunk": chunk_text,
            "context_after": text[chunk.end : chunk.context_end],
            "prompt_version": extract_graph.PROMPT_VERSION,
            "language": "en",
            "anchor_candidates": candidate_anchors(chunk_text, extract_graph.ANCHOR_MAX_CHARS),
            "entity_candidates": candidate_entities(chunk_text),
        }
    kind = {"describe": describe, "rate_age": rate_age}[job.kind]
    return {"source_title": CURIE_TITLE, "excerpt": text, "prompt_version": kind.PROMPT_VERSION}


def shared_runs(value, text: str, words: int = 5) -> list[str]:
    """Strings of ``value`` sharing ``words`` consecutive words with ``text``."""

    def grams(string: str) -> set[tuple[str, ...]]:
        tokens = [w.casefold() for w in re.findall(r"\w+", string)]
        return {tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}

    source_grams = grams(text)
    return [s for s in string_leaves(value) if grams(s) & source_grams]


def test_stored_payloads_hold_spans_and_no_text(planned_source):
    jobs = list(planned_source.jobs.order_by("pk"))
    assert sorted({job.kind for job in jobs}) == sorted(PIPELINE_KINDS)
    for job in jobs:
        assert job.payload[SPANS_OF] == planned_source.pk
        assert shared_runs(job.payload, CURIE) == [], job.kind
    graph = next(job for job in jobs if job.kind == "extract_graph")
    chunk = planned_source.chunks.get(index=graph.payload["chunk_index"])
    assert graph.payload["chunk"] == span(chunk.start, chunk.end)
    # The anchor and entity candidates are spans too, every one an exact slice of its chunk.
    for candidate in graph.payload["anchor_candidates"] + graph.payload["entity_candidates"]:
        start, end = candidate["$span"]
        assert chunk.start <= start < end <= chunk.end


def test_the_lease_gives_each_node_the_payload_with_its_text(planned_source, register_node):
    node = register_node(kinds=PIPELINE_KINDS)
    response = node.lease(max_jobs=16)
    assert response.status_code == 200
    leased = response.json()["jobs"]
    assert len(leased) == planned_source.jobs.count()
    for grant in leased:
        job = Job.objects.get(pk=grant["job_id"])
        assert grant["payload"] == node_facing(job, planned_source)
        assert SPANS_OF not in grant["payload"]
        # What is stored stays the span form; the size hint is the payload's as nodes read it.
        assert job.payload[SPANS_OF] == planned_source.pk
        assert job.size_hint == len(canonical_json(grant["payload"]))


def test_the_exchange_gives_the_payload_with_its_text_in_one_query(planned_source, register_node):
    node = register_node(kinds=PIPELINE_KINDS)
    with CaptureQueriesContext(connection) as queries:
        response = node.exchange(max_jobs=16)
    assert response.status_code == 200
    leased = response.json()["jobs"]
    assert len(leased) == planned_source.jobs.count()
    for grant in leased:
        assert grant["payload"] == node_facing(Job.objects.get(pk=grant["job_id"]), planned_source)
    reads = [q["sql"] for q in queries.captured_queries if "sources_source" in q["sql"]]
    assert len(reads) == 1 and "substr" in reads[0].lower()


def test_jobs_without_spans_lease_without_reading_any_source(register_node, clip_job):
    node = register_node()
    job = clip_job()
    with CaptureQueriesContext(connection) as queries:
        leased = node.exchange(max_jobs=4).json()["jobs"]
    assert [grant["payload"] for grant in leased] == [job.payload]
    assert not [q for q in queries.captured_queries if "sources_source" in q["sql"]]


def test_a_job_whose_source_text_is_gone_is_cancelled_not_leased(planned_source, register_node):
    node = register_node(kinds=PIPELINE_KINDS)
    # A writer that ignores the rule (purge_texts does not check): leasing still holds it.
    purge_texts(Source.objects.filter(pk=planned_source.pk))
    assert node.lease(max_jobs=16).json()["jobs"] == []
    assert node.exchange(max_jobs=16).json()["jobs"] == []
    jobs = Job.objects.filter(source=planned_source)
    assert set(jobs.values_list("status", flat=True)) == {Job.Status.CANCELLED}
    assert not Lease.objects.filter(state=Lease.State.ACTIVE).exists()
    reasons = set(
        JobEvent.objects.filter(job__in=jobs, kind=JobEvent.Kind.CANCELLED).values_list(
            "message", flat=True
        )
    )
    assert reasons == {f"the text of source(s) [{planned_source.pk}] was purged before it ran"}


def test_a_source_under_analysis_keeps_its_text(planned_source):
    with pytest.raises(ConflictError, match="analysis is still running"):
        purge_source_text(planned_source)
    planned_source.refresh_from_db()
    assert not planned_source.is_purged
    assert not Job.objects.filter(source=planned_source, status=Job.Status.CANCELLED).exists()


def test_removing_a_text_early_cancels_its_jobs_first(planned_source, register_node):
    """What a takedown does: cancel the source's outstanding jobs, whose pending results keep
    no output (nothing trimmed what they quote), then purge."""
    node = register_node(kinds=PIPELINE_KINDS)
    granted = node.lease(max_jobs=2).json()["jobs"]
    handed_in = granted[0]
    Job.objects.filter(pk=handed_in["job_id"]).update(status=Job.Status.VALIDATING)
    JobResult.objects.create(
        job_id=handed_in["job_id"],
        node_id=node.id,
        lease_id=handed_in["lease_id"],
        output={"facts": [{"anchor": CURIE[:80]}]},
        output_sha256="0" * 64,
    )
    assert cancel_source_jobs([planned_source.pk], reason="taken down") == (
        planned_source.jobs.count()
    )
    purge_texts(Source.objects.filter(pk=planned_source.pk))
    assert node.heartbeat(granted[1]["lease_id"]).json()["cancelled"] is True
    (result,) = JobResult.objects.filter(job__source=planned_source)
    assert result.status == JobResult.Status.SUPERSEDED
    assert result.output == UNCHECKED_OUTPUT
    assert node.lease(max_jobs=16).json()["jobs"] == []


def test_a_job_quoting_a_purged_text_cannot_be_requeued(planned_source):
    job = planned_source.jobs.first()
    cancel_source_jobs([planned_source.pk], reason="stopped")
    Source.objects.filter(pk=planned_source.pk).update(status=Source.Status.ANALYSED)
    assert purge_source_text(planned_source) is True
    job.refresh_from_db()
    assert requeue_job(job, reason="try again") is False
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


def test_create_job_checks_the_payload_a_node_will_read(planned_source):
    text = planned_source.text
    payload = {
        "source_title": CURIE_TITLE,
        "excerpt": span(0, 40),
        "prompt_version": describe.PROMPT_VERSION,
    }
    job = create_job("describe", payload, source=planned_source)
    assert job.payload == {SPANS_OF: planned_source.pk, **payload}
    with pytest.raises(InvalidInput, match="needs its source"):
        create_job("describe", payload)
    with pytest.raises(InvalidInput, match="do not fit"):
        create_job(
            "describe", {**payload, "excerpt": span(0, len(text) + 1)}, source=planned_source
        )
    # The hydrated excerpt is empty: the kind's schema (minLength 1) refuses it.
    with pytest.raises(InvalidInput, match="input schema"):
        create_job("describe", {**payload, "excerpt": span(5, 5)}, source=planned_source)
    Source.objects.filter(pk=planned_source.pk).update(status=Source.Status.ANALYSED)
    purge_source_text(planned_source)
    with pytest.raises(InvalidInput, match="purged"):
        create_job("describe", payload, source=planned_source)
