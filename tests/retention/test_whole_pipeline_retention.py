"""Acceptance: after a whole analysis (scripted LLM, PostgreSQL, the node API) and the purge,
nothing stored anywhere repeats 12 consecutive words of the source, the anchors quote at most
20 % of its words, and every anchor still verifies against the original, which only the test
kept.

The stores are scanned independently of the models: every text, varchar and JSON column of
every table PostgreSQL has, and every document and metadata value of every Chroma collection.
"""

import contextlib
import hashlib
import json

import pytest
from django.db import connection
from rest_framework.test import APIClient

from alexandria.chroma import chroma_client
from alexandria.jobs.models import Job
from alexandria.knowledge.models import Anchor, Fact, KnowledgeItem
from alexandria.retention.audit import audit_retention, string_leaves
from alexandria.search.services.indexing import rebuild_index
from alexandria.search.vector_index import VectorIndex
from alexandria.sources.models import Source
from alexandria.textproc.normalize import normalize_text
from alexandria.textproc.shingles import words
from tests.pipeline.driving import run_next_job_over_http
from tests.pipeline.scripted import ScriptedModel, run_with_llm
from tests.retention.documents import HOLLEN, HOLLEN_GRAPH, HOLLEN_TITLE

pytestmark = pytest.mark.django_db(transaction=True)

RUN_WORDS = 12
MAX_QUOTED_SHARE = 0.2
TEXT_TYPES = ("text", "character varying", "json", "jsonb")


@pytest.fixture
def chroma(settings, tmp_path) -> VectorIndex:
    settings.CHROMA_URL = ""
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.SEARCH_COLLECTION_PREFIX = "retention"
    settings.LLM_BASE_URL = ""
    return VectorIndex()


def run_every_job(token: str, base_url: str) -> list[str]:
    """Lease and run jobs one at a time, as a node does, until none is left; their kinds."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {token}")
    kinds = []
    while kind := run_next_job_over_http(
        client, lambda kind, payload: run_with_llm(base_url, kind, payload)
    ):
        kinds.append(kind)
    return kinds


def shingles_of(text: str) -> set[tuple[str, ...]]:
    tokens = [word.token for word in words(text)]
    return {tuple(tokens[i : i + RUN_WORDS]) for i in range(len(tokens) - RUN_WORDS + 1)}


def copied_shingles(value, original: set[tuple[str, ...]]) -> list[str]:
    """The strings of a stored value holding a 12-word shingle of the original."""
    return [text for text in string_leaves(value) if shingles_of(text) & original]


def database_findings(original: set[tuple[str, ...]]) -> dict[str, list[str]]:
    """Every text-like column of every table in the database, scanned for the original."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = ANY(%s)",
            [list(TEXT_TYPES)],
        )
        columns = cursor.fetchall()
    assert ("knowledge_anchor", "text_start") in columns
    assert ("jobs_job", "payload") in columns
    findings: dict[str, list[str]] = {}
    for table, column in columns:
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT "{column}" FROM "{table}"')  # noqa: S608 - names from the catalogue
            for (value,) in cursor.fetchall():
                if isinstance(value, str) and value[:1] in "[{":
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                for text in copied_shingles(value, original):
                    findings.setdefault(f"{table}.{column}", []).append(text[:300])
    return findings


def chroma_findings(original: set[tuple[str, ...]]) -> tuple[int, dict[str, list[str]]]:
    """How many documents every Chroma collection holds, and those repeating the original."""
    client = chroma_client()
    documents = 0
    findings: dict[str, list[str]] = {}
    for listed in client.list_collections():
        name = listed if isinstance(listed, str) else listed.name
        stored = client.get_collection(name).get(include=["documents", "metadatas"])
        documents += len(stored["ids"])
        for field in ("documents", "metadatas"):
            for text in copied_shingles(stored[field] or [], original):
                findings.setdefault(f"chroma:{name}.{field}", []).append(text[:300])
    return documents, findings


def quoted_word_positions(anchors: list[Anchor], text: str) -> set[int]:
    """The positions of the source's words that some anchor's stored quote repeats (a word
    partly quoted counts)."""
    ranges = []
    for anchor in anchors:
        if anchor.text_start:
            ranges.append((anchor.start, anchor.start + len(anchor.text_start)))
        if anchor.text_end:
            ranges.append((anchor.end - len(anchor.text_end), anchor.end))
    return {
        position
        for position, word in enumerate(words(text))
        if any(word.start < end and start < word.end for start, end in ranges)
    }


def longest_consecutive(positions: set[int]) -> int:
    longest = current = 0
    for position in sorted(positions):
        current = current + 1 if position - 1 in positions else 1
        longest = max(longest, current)
    return longest


def test_nothing_of_the_text_outlives_its_analysis(
    postgres, bot_client, registered_node, fake_openai, chroma
):
    original = normalize_text(HOLLEN)
    fake_openai.responder = ScriptedModel(
        facts=HOLLEN_GRAPH,
        summary="A local history of a coastal marsh, its birds and its restoration.",
    )
    reply = bot_client.post(
        "/api/v1/sources", {"title": HOLLEN_TITLE, "text": HOLLEN}, format="json"
    )
    assert reply.status_code == 201, reply.content
    source = Source.objects.get(pk=reply.json()["source"]["id"])
    assert source.sha256 == hashlib.sha256(original.encode()).hexdigest()
    chunks = source.chunks.count()
    assert chunks >= 4

    kinds = run_every_job(registered_node.token, fake_openai.base_url)
    from alexandria.jobs.models import JobResult

    for r in JobResult.objects.filter(status="invalid"):
        print("DEBUG", r.job.kind, r.rejection_reasons)

    assert kinds.count("extract_graph") == chunks
    assert {"derive", "reconstruct", "describe", "rate_age"} <= set(kinds)
    assert not Job.objects.filter(source=source).exclude(status=Job.Status.DONE).exists()
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED and source.is_purged
    assert Fact.objects.filter(source=source).count() >= len(HOLLEN_GRAPH) - 2
    assert KnowledgeItem.objects.filter(job__source=source).exists()
    assert rebuild_index(chroma).total > 0

    # Zero runs of 12+ consecutive source words, in any table or any Chroma collection.
    shingles = shingles_of(original)
    documents, in_chroma = chroma_findings(shingles)
    assert documents > 0
    findings = {**database_findings(shingles), **in_chroma}
    assert not findings, "stored runs of 12+ source words:\n" + "\n".join(
        f"{where}: {len(texts)} value(s), e.g. {texts[0]!r}" for where, texts in findings.items()
    )
    # The audit agrees: the purged source is audited, and nothing is found.
    report = audit_retention()
    assert (report.audited_sources, report.runs, report.errors) == (1, 0, []), report.lines()

    # Every anchor's offsets and span hash verify against the original; its quote is the
    # span's ends.
    anchors = list(Anchor.objects.filter(source=source))
    assert len(anchors) >= len(HOLLEN_GRAPH) - 2
    for anchor in anchors:
        assert 0 <= anchor.start < anchor.end <= len(original), anchor
        span = original[anchor.start : anchor.end]
        assert hashlib.sha256(span.encode()).hexdigest() == anchor.span_sha256, anchor
        assert span.startswith(anchor.text_start) and span.endswith(anchor.text_end), anchor

    # Quoted words: at most 20 % of the source's words, and no run of 12 even where the
    # quotes of overlapping or touching anchors join.
    quoted = quoted_word_positions(anchors, original)
    total = len(words(original))
    assert len(quoted) <= MAX_QUOTED_SHARE * total, (len(quoted), total)
    assert longest_consecutive(quoted) < RUN_WORDS

    # The scan does see a run where there is one.
    planted = " ".join(original.split()[40:52])
    KnowledgeItem.objects.create(kind="hypothesis", text=f"It said: {planted}.")
    assert list(database_findings(shingles)) == ["knowledge_knowledgeitem.text"]
