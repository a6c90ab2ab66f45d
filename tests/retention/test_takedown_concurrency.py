"""A takedown while nodes work on the source (PostgreSQL): a result for a lease held across
the takedown is refused like any cancelled job's (no credit, no penalty), one handed in before
it is set aside by validation, and a validation applying a result when the takedown starts is
waited for and undone. Nothing of the source comes back."""

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.jobs.dispatch import dispatcher
from alexandria.jobs.models import CreditEntry, Job, JobResult, WorkerNode
from alexandria.jobs.services.lifecycle import TRIMMED, lock_jobs
from alexandria.jobs.services.nodes import register_node
from alexandria.jobs.validation import validate_result
from alexandria.knowledge.models import Anchor, Entity, Fact, KnowledgeItem
from alexandria.retention.takedowns import take_down
from alexandria.sources.models import Source, Takedown
from alexandria.sources.services import Citation, submit_text
from tests.support.anchors import anchor_on

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres")]

TEXT = (
    "Marie Curie discovered polonium in 1898. She named it after Poland, her home country. "
    "Radium followed later that year, and both elements glowed faintly in the dark."
)
EXCHANGE = "/api/v1/jobs/exchange"


@pytest.fixture
def world(settings):
    settings.REPLICATION_SAMPLE_RATE = 0.0
    volunteer = contributor_for_discord_user("100000000000000031", display_name="volunteer")
    registered = register_node(
        volunteer, name="box", capabilities={"kinds": ["extract_graph", "describe", "rate_age"]}
    )
    WorkerNode.objects.filter(pk=registered.node.pk).update(trust=1.0)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {registered.token}")
    # Submitted and (eagerly, once committed) chunked and planned: its jobs are queued.
    source = submit_text(
        TEXT, citation=Citation(title="Curie", url="https://example.org/curie"), submitted_by=None
    ).source
    assert Job.objects.filter(source=source, kind="extract_graph").exists()
    staff = contributor_for_discord_user("100000000000000032", display_name="moderator")
    return source, registered.node, client, staff


def lease_graph_job(client) -> dict:
    response = client.post(EXCHANGE, {"max_jobs": 1, "kinds": ["extract_graph"]}, format="json")
    assert response.status_code == 200, response.content
    [leased] = response.json()["jobs"]
    return leased


def graph_output() -> dict:
    return {
        "entities": [
            {"name": "Marie Curie", "type": "person"},
            {"name": "polonium", "type": "substance"},
        ],
        "facts": [
            {
                "kind": "relation",
                "subject": "Marie Curie",
                "predicate": "discovered",
                "object": "polonium",
                "anchor": "Marie Curie discovered polonium in 1898.",
                "temporal_id": 1,
            }
        ],
    }


def hand_in(client, leased: dict) -> dict:
    body = {
        "results": [
            {"lease_id": leased["lease_id"], "output": graph_output(), "stats": {"elapsed_s": 30}}
        ]
    }
    response = client.post(EXCHANGE, body, format="json")
    assert response.status_code == 200, response.content
    [outcome] = response.json()["results"]
    return outcome


def assert_nothing_of_the_source_left(source_id: int, node: WorkerNode) -> None:
    assert not Source.objects.filter(pk=source_id).exists()
    for model in (Anchor, Entity, Fact):
        assert not model.objects.filter(source_id=source_id).exists(), model
    assert not KnowledgeItem.objects.exists()
    node.refresh_from_db()
    assert (node.valid_results, node.invalid_results) == (0, 0)
    assert not CreditEntry.objects.filter(node=node).exists()


def test_a_result_for_a_lease_held_across_the_takedown_is_refused(world):
    source, node, client, staff = world
    leased = lease_graph_job(client)
    assert "Marie Curie" in leased["payload"]["chunk"]

    take_down(Takedown.Scope.SOURCE, str(source.pk), reason="request", by=staff)

    heartbeat = client.post(f"/api/v1/leases/{leased['lease_id']}/heartbeat", format="json")
    assert heartbeat.json()["cancelled"] is True
    outcome = hand_in(client, leased)
    assert outcome["status"] == 409 and "cancelled" in outcome["detail"]
    assert outcome["result_id"] is None
    assert not JobResult.objects.filter(job_id=leased["job_id"]).exists()
    assert Job.objects.get(pk=leased["job_id"]).status == Job.Status.CANCELLED
    assert_nothing_of_the_source_left(source.pk, node)


def test_a_result_handed_in_before_the_takedown_is_set_aside_by_validation(world, monkeypatch):
    source, node, client, staff = world
    announced: list[int] = []
    monkeypatch.setattr(dispatcher, "announce", announced.extend)
    outcome = hand_in(client, lease_graph_job(client))
    assert outcome["status"] == 200 and announced == [outcome["result_id"]]

    take_down(Takedown.Scope.URL, "https://example.org/curie", reason="request", by=staff)
    validate_result(outcome["result_id"])

    result = JobResult.objects.get(pk=outcome["result_id"])
    assert result.status == JobResult.Status.SUPERSEDED
    assert "taken down" in result.output[TRIMMED] and len(result.output) == 1
    assert "taken down" in result.rejection_reasons[0]
    assert_nothing_of_the_source_left(source.pk, node)


def test_a_validation_applying_when_the_takedown_starts_is_waited_for_and_undone(world):
    source, node, _, staff = world
    job = Job.objects.filter(source=source, kind="extract_graph").order_by("pk").first()
    applying = threading.Event()

    def apply_a_result():
        """What validation does with a result: lock the job, store rows about the source."""
        try:
            with transaction.atomic():
                lock_jobs([job.pk])
                anchor = anchor_on(source, "Marie Curie discovered polonium in 1898.")
                curie = Entity.objects.create(source=source, name="Marie Curie", type="person")
                Fact.objects.create(
                    source=source,
                    kind=Fact.Kind.ATTRIBUTE,
                    subject=curie,
                    predicate="discovered",
                    value="polonium",
                    anchor=anchor,
                    temporal_id=1,
                    job=job,
                )
                applying.set()
                time.sleep(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=apply_a_result)
    thread.start()
    assert applying.wait(10)
    started = time.monotonic()
    outcome = take_down(Takedown.Scope.SOURCE, str(source.pk), reason="request", by=staff)
    waited = time.monotonic() - started
    thread.join(10)

    assert outcome.removed_sources == [source.pk]
    assert waited > 0.2, "the takedown did not wait for the validation holding the job"
    assert_nothing_of_the_source_left(source.pk, node)
