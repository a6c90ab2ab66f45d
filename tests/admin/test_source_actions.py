import pytest
from django.utils import timezone

from alexandria.core.tasking import Task, registered
from alexandria.knowledge.models import Anchor
from alexandria.sources.models import Source


def test_purge_empties_the_text_and_keeps_anchors(world, run_action):
    response = run_action(Source, "purge_text", [world.source])
    assert response.status_code == 302
    source = Source.objects.get(pk=world.source.pk)
    assert source.text == ""
    assert source.text_purged_at is not None
    assert source.sha256 == world.source.sha256
    anchor = Anchor.objects.get(pk=world.anchor.pk)
    kept = ("start", "end", "span_sha256", "text_start", "text_end")
    assert [getattr(anchor, name) for name in kept] == [getattr(world.anchor, n) for n in kept]
    assert source.chunks.count() == 2


def test_purged_source_page_says_so(world, run_action, staff_client):
    run_action(Source, "purge_text", [world.source])
    response = staff_client.get(f"/admin/sources/source/{world.source.pk}/change/")
    assert "(purged)" in response.content.decode()


@pytest.fixture
def enqueued(monkeypatch):
    """Source ids handed to ``Task.INGEST_SOURCE``."""
    calls: list[int] = []
    monkeypatch.setattr(registered(Task.INGEST_SOURCE), "delay", calls.append)
    return calls


def test_requeue_resets_a_failed_source_and_enqueues_ingestion_on_commit(
    world, run_action, enqueued, django_capture_on_commit_callbacks
):
    world.fact.delete()
    Source.objects.filter(pk=world.source.pk).update(status=Source.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = run_action(Source, "requeue_analysis", [world.source])
        assert enqueued == []
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert enqueued == [world.source.pk]
    source = Source.objects.get(pk=world.source.pk)
    assert source.status == Source.Status.RECEIVED
    # The chunks are rebuilt from the retained text by ingestion.
    assert source.chunks.count() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": Source.Status.ANALYSED}, "Only failed, stuck or received sources"),
        ({"status": Source.Status.FAILED, "text": "", "text_purged_at": timezone.now()}, "purged"),
    ],
)
def test_requeue_refuses_sources_that_cannot_start_over(
    world, run_action, enqueued, django_capture_on_commit_callbacks, staff_client, change, message
):
    world.fact.delete()
    Source.objects.filter(pk=world.source.pk).update(**change)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(Source, "requeue_analysis", [world.source])
    assert enqueued == []
    assert world.source.chunks.count() == 2
    shown = [str(m) for m in staff_client.get(response["Location"]).context["messages"]]
    assert any(message in text for text in shown), shown


def test_requeue_refuses_a_source_that_already_has_facts(
    world, run_action, enqueued, django_capture_on_commit_callbacks
):
    Source.objects.filter(pk=world.source.pk).update(status=Source.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(Source, "requeue_analysis", [world.source])
    assert enqueued == []
    assert Source.objects.get(pk=world.source.pk).status == Source.Status.FAILED
    assert world.source.chunks.count() == 2
