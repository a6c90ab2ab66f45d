"""Figures' images follow the text's retention rule (issue 26): kept only while the analysis
runs, handed to nodes at lease time and never stored in job rows, deleted with the text; the
retention audit reports an image kept past its text and image bytes stored anywhere."""

import base64
import json

import pytest

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.figures.models import Figure
from alexandria.jobs.models import Job, JobEvent, WorkerNode
from alexandria.jobs.services.leasing import lease_jobs
from alexandria.jobs.services.lifecycle import OUTSTANDING, cancel_job
from alexandria.jobs.services.nodes import register_node
from alexandria.jobs.services.payloads import hydrate_payloads
from alexandria.pipeline.services.planning import Stage, advance_source
from alexandria.retention.audit import audit_retention, database_columns
from alexandria.sources.models import Source
from alexandria.sources.services import purge_texts
from tests.pipeline.driving import node_payload, run_job
from tests.support.figure_documents import upload_pdf_with_figures
from tests.support.tiny_clip import (
    configure_server,
    node_output,
    require_open_clip,
)

require_open_clip()
pytestmark = pytest.mark.django_db


@pytest.fixture
def source(settings, weights, django_capture_on_commit_callbacks) -> Source:
    """An uploaded PDF with two figures, under analysis, with its clip_embed job."""
    configure_server(settings, weights)
    settings.REPLICATION_SAMPLE_RATE = 0.0
    with django_capture_on_commit_callbacks(execute=True):
        source = upload_pdf_with_figures()
    source.refresh_from_db()
    return source


@pytest.fixture
def node(db) -> WorkerNode:
    volunteer = contributor_for_discord_user("100000000000000002", display_name="volunteer")
    registered = register_node(volunteer, name="clip-box", capabilities={"kinds": ["clip_embed"]})
    WorkerNode.objects.filter(pk=registered.node.pk).update(trust=1.0)
    registered.node.refresh_from_db()
    return registered.node


def images_audit():
    return audit_retention(scanners=[database_columns])


def test_images_go_to_nodes_at_lease_time_and_never_into_job_rows(source, node):
    figures = {f.pk: bytes(f.image) for f in Figure.objects.filter(source=source)}
    job = Job.objects.get(source=source, kind="clip_embed")
    assert job.payload["$images"] == sorted(figures)
    assert [f["image_b64"] for f in job.payload["figures"]] == [{"$image": pk} for pk in figures]

    (granted,) = lease_jobs(node, max_jobs=1, kinds=["clip_embed"])

    leased = {f["id"]: f["image_b64"] for f in granted.payload["figures"]}
    assert leased == {pk: base64.b64encode(data).decode() for pk, data in figures.items()}
    assert "$images" not in granted.payload and "$spans_of" not in granted.payload
    job.refresh_from_db()
    assert "base64" not in json.dumps(job.payload) and "iVBOR" not in json.dumps(job.payload)
    report = images_audit()
    assert report.image_rows == 0 and report.kept_images == []


def test_payloads_without_images_come_back_as_they_are():
    plain = [{"a": 1}, {"$spans_of": 999999, "b": "no spans"}]
    assert hydrate_payloads(plain) == plain


def test_a_purge_deletes_the_images_and_a_job_needing_one_is_cancelled(source, node):
    purged = purge_texts(Source.objects.filter(pk=source.pk))

    assert purged == 1
    for figure in Figure.objects.filter(source=source):
        assert figure.image is None and figure.image_purged_at is not None
        assert figure.sha256 and figure.byte_size and figure.caption_anchor_id
    assert lease_jobs(node, max_jobs=1, kinds=["clip_embed"]) == []
    assert Job.objects.get(source=source, kind="clip_embed").status == Job.Status.CANCELLED


def test_the_analysis_ends_after_its_clip_jobs_and_then_no_image_remains(
    source, node, weights, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for job in Job.objects.filter(source=source).exclude(kind="clip_embed"):
            cancel_job(job, reason="this test runs the figures' jobs only")
        assert advance_source(source.pk) != Stage.DONE
    (clip_job,) = Job.objects.filter(source=source, status__in=OUTSTANDING)
    assert clip_job.kind == "clip_embed"
    assert Figure.objects.filter(source=source, image__isnull=False).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        run_job(node, clip_job, node_output(weights, node_payload(clip_job)))

    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED and source.is_purged
    assert not Figure.objects.filter(source=source, image__isnull=False).exists()
    assert Figure.objects.filter(source=source, embeddings__isnull=False).count() == 2
    report = images_audit()
    assert report.kept_images == [] and report.image_rows == 0 and not report.kept_uploads


def test_the_audit_reports_images_kept_past_their_text_and_image_bytes_in_rows(source):
    Source.objects.filter(pk=source.pk).update(text="", text_purged_at=source.created_at)
    figure = Figure.objects.filter(source=source).first()
    job = Job.objects.get(source=source, kind="clip_embed")
    leaked = base64.b64encode(bytes(figure.image)).decode()
    JobEvent.objects.create(job=job, kind=JobEvent.Kind.CANCELLED, message=leaked)

    report = images_audit()

    assert report.kept_images == sorted(f.pk for f in Figure.objects.filter(source=source))
    assert report.columns["jobs_jobevent", "message"].images == 1
    assert not report.clean
    lines = "\n".join(report.lines())
    assert f"Figure {figure.pk} still holds its image" in lines
    assert "FOUND image bytes in 1 row(s) of jobs_jobevent.message" in lines


def test_without_clip_weights_figures_get_no_jobs_and_their_images_go_with_the_text(
    settings, django_capture_on_commit_callbacks
):
    settings.SEARCH_CLIP_PRETRAINED = ""
    with django_capture_on_commit_callbacks(execute=True):
        source = upload_pdf_with_figures()
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSING
    assert Figure.objects.filter(source=source, image__isnull=False).count() == 2
    assert not Job.objects.filter(source=source, kind="clip_embed").exists()

    with django_capture_on_commit_callbacks(execute=True):
        for job in Job.objects.filter(source=source):
            cancel_job(job, reason="this test ends the analysis at once")
        assert advance_source(source.pk) == Stage.DONE

    assert not Figure.objects.filter(source=source, image__isnull=False).exists()
    assert images_audit().kept_images == []
