"""The retention audit (``manage.py audit_retention``, ``alexandria audit-retention``, the weekly
beat task): clean when nothing stored repeats a purged source, and a planted run is found in
whichever table, column or Chroma collection holds it."""

import hashlib
import io
import logging

import numpy as np
import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django.core.management.base import CommandError

from alexandria.cli import main as cli_main
from alexandria.core.beat import BEAT_SCHEDULE
from alexandria.core.tasking import Queue, Task
from alexandria.jobs.models import Job
from alexandria.knowledge.models import KnowledgeItem
from alexandria.retention.audit import audit_retention
from alexandria.retention.tasks import audit_retention as weekly_audit
from alexandria.search.vector_index import VectorIndex
from alexandria.sources.fingerprints import store_fingerprint
from alexandria.sources.models import Source
from alexandria.sources.services import purge_source_text

TEXT = (
    "The lighthouse keeper climbed the hundred and twelve steps of the tower every evening at "
    "dusk, trimmed the wick, polished the great lens with a chamois cloth and wrote the state "
    "of the weather in a leather logbook that the harbour board inspected once a year."
)
COPIED = "climbed the hundred and twelve steps of the tower every evening at dusk, trimmed the wick"
OWN_WORDS = "Keepers tended the light daily and logged the weather for inspection."


def purged_source(text: str = TEXT, *, title: str = "The keeper") -> Source:
    """A source fingerprinted (as ingestion does) and then purged, without any jobs."""
    source = Source.objects.create(
        title=title,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        char_count=len(text),
        byte_size=len(text.encode()),
        text=text,
        status=Source.Status.ANALYSED,
    )
    store_fingerprint(source)
    purge_source_text(source)
    return source


def audit_command() -> tuple[int, str]:
    """The management command's exit status and what it printed."""
    out = io.StringIO()
    try:
        call_command("audit_retention", stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def line_of(output: str, column: str) -> list[int]:
    """The counts (runs, rows with runs, rows) printed for a column."""
    (line,) = [line for line in output.splitlines() if f" {column}" in line]
    return [int(count) for count in line.split()[:3]]


ENTRY = {"kind": "hypothesis", "status": "accepted", "age_rating": 0}
PARTITION = "audit_tiny_layer_1_accepted_to12"


class TinyEmbedder:
    name = "tiny"
    dimension = 3


@pytest.fixture
def chroma(settings, tmp_path) -> VectorIndex:
    settings.CHROMA_URL = ""
    settings.CHROMA_PATH = tmp_path / "chroma"
    return VectorIndex(embedder=TinyEmbedder(), prefix="audit")


@pytest.mark.django_db
def test_a_clean_installation_reports_zero_per_column(chroma):
    purged_source()
    KnowledgeItem.objects.create(kind="hypothesis", text=OWN_WORDS)
    chroma.upsert(1, [1], np.eye(3)[:1], [{**ENTRY, "stance": OWN_WORDS}])

    status, output = audit_command()

    assert status == 0, output
    assert "of 1 purged source(s)" in output
    assert line_of(output, "knowledge_knowledgeitem.text") == [0, 0, 1]
    assert line_of(output, f"chroma:{PARTITION}.metadatas") == [0, 0, 1]
    assert "columns without rows" in output
    assert output.rstrip().endswith("Clean: no stored text repeats a purged source.")


@pytest.mark.django_db
def test_a_planted_run_in_an_item_a_job_payload_or_chroma_is_found(chroma):
    source = purged_source()
    KnowledgeItem.objects.create(kind="hypothesis", text=f"As the source says, {COPIED}.")
    KnowledgeItem.objects.create(kind="hypothesis", text=OWN_WORDS)
    Job.objects.create(kind="describe", payload={"excerpt": ["intro", f"...{COPIED}..."]})
    chroma.upsert(1, [1], np.eye(3)[:1], [ENTRY])
    # Alexandria stores no documents, but the audit reads them, whoever wrote them.
    chroma.client.get_collection(PARTITION).add(
        ids=["7"], embeddings=np.eye(3)[1:2], documents=[COPIED.upper()], metadatas=[ENTRY]
    )

    status, output = audit_command()

    assert status == 1, output
    assert line_of(output, "knowledge_knowledgeitem.text") == [1, 1, 2]
    assert line_of(output, "jobs_job.payload") == [1, 1, 1]
    assert line_of(output, f"chroma:{PARTITION}.documents") == [1, 1, 2]
    assert f"(sources [{source.pk}])" in output
    assert "FOUND 3 run(s) in 3 column(s)." in output


@pytest.mark.django_db
def test_sources_still_analysed_are_not_audited_and_their_own_text_is_allowed():
    purged_source()
    live = Source.objects.create(
        title="Live",
        sha256="f" * 64,
        char_count=len(TEXT),
        byte_size=len(TEXT),
        text="Another edition. " + TEXT,
        status=Source.Status.ANALYSING,
    )
    store_fingerprint(live)
    KnowledgeItem.objects.create(kind="hypothesis", text="Another edition and its own words.")

    report = audit_retention()

    assert (report.purged_sources, report.audited_sources) == (1, 1)
    assert report.runs == 0 and report.clean
    assert report.columns[("sources_source", "text")].rows == 1  # the purged one, empty


@pytest.mark.django_db
def test_a_purged_source_that_cannot_be_audited_makes_the_audit_incomplete(settings):
    source = purged_source()
    settings.RETENTION_FINGERPRINT_KEY = "a new key"
    orphan = purged_source("Another text entirely, purged before fingerprints existed.", title="x")
    orphan.fingerprint.delete()

    status, output = audit_command()

    assert status == 2, output
    assert f"Source {source.pk} cannot be audited: its fingerprint was made with another key" in (
        output
    )
    assert f"Source {orphan.pk} cannot be audited: it has no verbatim fingerprint." in output
    assert "No runs found, but the audit is incomplete" in output


@pytest.mark.django_db
def test_a_store_that_cannot_be_read_makes_the_audit_incomplete():
    purged_source()

    def broken():
        raise ConnectionError("chroma is down")

    report = audit_retention(scanners=[broken])

    assert report.errors == ["broken: chroma is down"] and not report.clean
    assert "Not scanned: broken: chroma is down" in report.lines()


@pytest.mark.django_db
def test_the_cli_subcommand_exits_non_zero_on_a_finding(capsys):
    purged_source()
    assert cli_main(["audit-retention"]) == 0
    KnowledgeItem.objects.create(kind="instruction", text=COPIED)
    assert cli_main(["audit-retention"]) == 1
    assert "knowledge_knowledgeitem.text" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_weekly_task_logs_findings_as_errors(caplog):
    (entry,) = [e for e in BEAT_SCHEDULE.values() if e["task"] == Task.AUDIT_RETENTION.value]
    assert entry["schedule"] == crontab(minute=30, hour=3, day_of_week=0)
    assert Task.AUDIT_RETENTION.queue == Queue.MAINTENANCE
    assert weekly_audit.name == Task.AUDIT_RETENTION.value
    purged_source()
    KnowledgeItem.objects.create(kind="hypothesis", text=COPIED)

    with caplog.at_level(logging.INFO, logger="alexandria.retention.tasks"):
        outcome = weekly_audit()

    assert outcome == {"runs": 1, "unauditable_sources": 0, "errors": 0}
    (record,) = [r for r in caplog.records if r.name == "alexandria.retention.tasks"]
    assert record.levelno == logging.ERROR and "FOUND 1 run(s)" in record.getMessage()
