"""No source gets stuck (issue 21, finding 3), and uploads are extracted off the request path
(finding 1): planning trims what it offers, a failing stage fails its source with a reason the
member sees, the reconciler covers every stage a worker must finish, and a resubmission
retries a failed copy instead of answering with it."""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from alexandria.core.tasking import Task, registered
from alexandria.jobs.models import Job
from alexandria.pipeline import tasks as pipeline_tasks
from alexandria.retention.audit import kept_uploads
from alexandria.sources import recovery, uploads
from alexandria.sources import tasks as source_tasks
from alexandria.sources.models import Source, SourceUpload
from alexandria.sources.services import Citation, purge_texts, submit_text
from alexandria.textproc.phrases import candidate_entities
from jobkinds import extract_graph
from tests.textproc.pdf_factory import text_pdf

BLOB = "QmFzZTY0" * 50  # a 400-character "word", as base64 blobs and long URLs are
TEXT = f"Curie studied radium in Paris. The archive holds {BLOB} as its key. Radium glows."


@pytest.fixture
def sent(monkeypatch):
    """(task, source id) pairs the reconciler and retries send, instead of running them."""
    calls: list[tuple[Task, int]] = []
    monkeypatch.setattr(recovery, "send", lambda task, *args: calls.append((task, *args)))
    for task in (Task.INGEST_SOURCE, Task.EXTRACT_UPLOAD):
        monkeypatch.setattr(
            registered(task), "delay", lambda *args, task=task: calls.append((task, *args))
        )
    return calls


def stale(source: Source, status: str, **fields) -> None:
    long_ago = timezone.now() - timedelta(hours=2)
    Source.objects.filter(pk=source.pk).update(status=status, updated_at=long_ago, **fields)


@pytest.mark.django_db
def test_a_word_longer_than_a_name_may_be_still_gets_its_source_planned():
    assert any(len(name) > extract_graph.NAME_MAX_CHARS for name in candidate_entities(TEXT))
    source = submit_text(TEXT, citation=Citation(), submitted_by=None).source
    pipeline_tasks.ingest_source(source.pk)
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSING
    graph_jobs = Job.objects.filter(source=source, kind=extract_graph.KIND.name)
    assert graph_jobs.exists()


@pytest.mark.django_db
def test_a_failing_stage_fails_the_source_with_a_reason_the_member_sees(monkeypatch, bot_client):
    response = bot_client.post("/api/v1/sources", {"text": TEXT}, format="json")
    source_id = response.json()["source"]["id"]

    def broken(source_id):
        raise RuntimeError("planning bug")

    monkeypatch.setattr(pipeline_tasks.planning, "plan_analysis", broken)
    pipeline_tasks.ingest_source(source_id)  # no exception escapes into the caller
    detail = bot_client.get(f"/api/v1/sources/{source_id}").json()
    assert detail["status"] == "failed"
    assert "RuntimeError" in detail["failure_reason"]


@pytest.mark.django_db
def test_the_reconciler_restarts_every_stuck_stage_then_fails_it(sent, settings):
    waiting = {
        status: submit_text(f"Text {status}. It waits.", citation=Citation(), submitted_by=None)
        for status in (Source.Status.EXTRACTING, Source.Status.RECEIVED, Source.Status.CHUNKED)
    }
    for status, outcome in waiting.items():
        stale(outcome.source, status)
    fresh = submit_text("A fresh one. Not stuck.", citation=Citation(), submitted_by=None)
    assert recovery.redispatch_stuck_sources() == 3
    assert sorted(sent) == sorted(
        [
            (Task.EXTRACT_UPLOAD, waiting[Source.Status.EXTRACTING].source.pk),
            (Task.INGEST_SOURCE, waiting[Source.Status.RECEIVED].source.pk),
            (Task.INGEST_SOURCE, waiting[Source.Status.CHUNKED].source.pk),
        ]
    )
    assert fresh.source.pk not in [source_id for _, source_id in sent]
    chunked = waiting[Source.Status.CHUNKED].source
    stale(chunked, Source.Status.CHUNKED, attempts=settings.SOURCE_MAX_ATTEMPTS)
    recovery.redispatch_stuck_sources()
    chunked.refresh_from_db()
    assert chunked.status == Source.Status.FAILED
    assert "did not finish" in chunked.failure_reason


@pytest.mark.django_db
def test_resubmitting_a_failed_or_stuck_text_retries_it(sent, django_capture_on_commit_callbacks):
    first = submit_text(TEXT, citation=Citation(), submitted_by=None).source
    stale(first, Source.Status.CHUNKED)
    with django_capture_on_commit_callbacks(execute=True):
        again = submit_text(TEXT, citation=Citation(), submitted_by=None)
    assert again.duplicate and again.source.pk == first.pk
    first.refresh_from_db()
    assert first.status == Source.Status.RECEIVED
    assert sent == [(Task.INGEST_SOURCE, first.pk)]


def upload(client, data: bytes, name: str, content_type: str):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post("/api/v1/sources", {"file": file}, format="multipart")


@pytest.mark.django_db
def test_an_upload_is_stored_answered_then_extracted_by_the_task(bot_client):
    response = upload(bot_client, b"# Moths\n\nMoths *circle* lamps.", "m.md", "text/markdown")
    assert response.status_code == 201, response.json()
    source = response.json()["source"]
    assert (source["status"], source["char_count"], source["sha256"]) == ("extracting", 0, None)
    assert SourceUpload.objects.filter(source_id=source["id"]).exists()
    assert source_tasks.extract_upload(source["id"]) == Source.Status.RECEIVED
    stored = Source.objects.get(pk=source["id"])
    assert (stored.text, stored.title) == ("Moths\n\nMoths circle lamps.", "Moths")
    assert not SourceUpload.objects.filter(source_id=stored.pk).exists()


@pytest.mark.django_db
def test_a_refused_upload_fails_with_the_reason_and_keeps_no_file(bot_client, sent):
    lines = [f"Line {i % 7} of a text drawn many times." for i in range(5000)]
    bomb = text_pdf([lines], compress=True)
    source_id = upload(bot_client, bomb, "bomb.pdf", "application/pdf").json()["source"]["id"]
    assert source_tasks.extract_upload(source_id) == Source.Status.FAILED
    detail = bot_client.get(f"/api/v1/sources/{source_id}").json()
    assert detail["status"] == "failed"
    assert "decompression bomb" in detail["failure_reason"]
    assert not SourceUpload.objects.filter(source_id=source_id).exists()
    # Submitting the file again retries it, with the file stored anew.
    again = upload(bot_client, bomb, "bomb.pdf", "application/pdf")
    assert again.json()["source"]["id"] == source_id
    assert Source.objects.get(pk=source_id).status == Source.Status.EXTRACTING
    assert SourceUpload.objects.filter(source_id=source_id).exists()


@pytest.mark.django_db
def test_the_time_limit_fails_the_extraction_visibly(bot_client, monkeypatch):
    source_id = upload(bot_client, b"Some text.", "a.txt", "text/plain").json()["source"]["id"]

    def overtime(source_id):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(uploads, "extract_upload", overtime)
    source_tasks.extract_upload(source_id)
    source = Source.objects.get(pk=source_id)
    assert source.status == Source.Status.FAILED
    assert "took longer than" in source.failure_reason
    assert not SourceUpload.objects.filter(source_id=source_id).exists()


@pytest.mark.django_db
def test_purging_removes_the_upload_and_the_audit_reports_one_left_behind(bot_client):
    source_id = upload(bot_client, b"Some text.", "a.txt", "text/plain").json()["source"]["id"]
    assert kept_uploads() == []  # still extracting: the file may be there
    Source.objects.filter(pk=source_id).update(status=Source.Status.ANALYSED)
    assert kept_uploads() == [source_id]
    purge_texts(Source.objects.filter(pk=source_id))
    assert kept_uploads() == []
    assert not SourceUpload.objects.exists()
