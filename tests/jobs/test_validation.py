"""Validation, adaptive replication, trust and credit, end to end through the node API."""

from decimal import Decimal

import pytest

from alexandria.jobs import validation
from alexandria.jobs.handlers import get_handler
from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, WorkerNode
from tests.jobs.conftest import clip_output

ALICE, BOB, CAROL = "100000000000000001", "100000000000000002", "100000000000000003"


@pytest.fixture
def applied(monkeypatch):
    """Record every handler.apply call for clip_score jobs."""
    calls = []
    handler = get_handler("clip_score")
    monkeypatch.setattr(handler, "apply", lambda job, result: calls.append((job.pk, result.pk)))
    return calls


def _work(node, run_on_commit, similarity=0.5):
    job_json = node.lease().json()["jobs"][0]
    output = clip_output(job_json["payload"], similarity=similarity)
    response = run_on_commit(node.submit, job_json["lease_id"], output)
    assert response.status_code == 200, response.content
    return job_json["job_id"], response.json()["result_id"]


def _trust(node, value):
    WorkerNode.objects.filter(pk=node.id).update(trust=value)


def test_trusted_node_result_is_applied_and_credited_once(
    register_node, clip_job, run_on_commit, applied
):
    node = register_node()
    _trust(node, 0.9)
    job = clip_job(pair_count=3)
    job_id, result_id = _work(node, run_on_commit)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    assert applied == [(job_id, result_id)]
    entry = CreditEntry.objects.get()
    assert entry.amount == Decimal("0.030")
    assert entry.basis == CreditEntry.Basis.TRUSTED
    assert entry.reason == f"clip_score job #{job_id} validated (trusted node, not replicated)"
    # A crash-and-retry of the task must not apply or credit again.
    JobResult.objects.filter(pk=result_id).update(status=JobResult.Status.PENDING)
    Job.objects.filter(pk=job_id).update(status=Job.Status.VALIDATING)
    validation.validate_result(result_id)
    validation.validate_result(result_id)
    assert CreditEntry.objects.count() == 1
    node_row = node.model
    assert node_row.valid_results >= 1


def test_validate_result_twice_credits_once(
    register_node, clip_job, django_capture_on_commit_callbacks, applied
):
    node = register_node()
    _trust(node, 0.9)
    clip_job()
    job_json = node.lease().json()["jobs"][0]
    with django_capture_on_commit_callbacks(execute=False):
        result_id = node.submit(job_json["lease_id"], clip_output(job_json["payload"])).json()[
            "result_id"
        ]
    validation.validate_result(result_id)
    validation.validate_result(result_id)
    assert CreditEntry.objects.count() == 1
    assert len(applied) == 1
    assert node.model.valid_results == 1


def test_untrusted_result_waits_for_another_contributors_replica(
    register_node, clip_job, run_on_commit, applied
):
    alice = register_node(ALICE, name="a1")
    alice_two = register_node(ALICE, name="a2")
    bob = register_node(BOB, name="b1")
    job = clip_job()
    _work(alice, run_on_commit)
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING
    assert applied == [] and CreditEntry.objects.count() == 0
    replica = Job.objects.get(replica_of=job)
    assert replica.payload == job.payload
    # Alice's other node may not verify her own result.
    assert alice_two.lease().json()["jobs"] == []
    replica_id, _ = _work(bob, run_on_commit, similarity=0.51)
    assert replica_id == replica.pk
    job.refresh_from_db()
    replica.refresh_from_db()
    assert job.status == Job.Status.DONE and replica.status == Job.Status.DONE
    assert len(applied) == 1 and applied[0][0] == job.pk
    credited = dict(CreditEntry.objects.values_list("node_id", "job_id"))
    assert credited == {alice.id: job.pk, bob.id: replica.pk}
    assert set(CreditEntry.objects.values_list("basis", flat=True)) == {"agreed"}
    assert alice.model.trust == pytest.approx(0.2)
    assert bob.model.trust == pytest.approx(0.2)


def test_disagreement_lowers_trust_and_a_third_replica_decides(
    register_node, clip_job, run_on_commit, applied
):
    alice, bob, carol = register_node(ALICE), register_node(BOB), register_node(CAROL)
    for node in (alice, bob, carol):
        _trust(node, 0.4)
    job = clip_job()
    _work(alice, run_on_commit, similarity=0.5)
    _work(bob, run_on_commit, similarity=0.1)  # a different answer
    assert alice.model.trust == pytest.approx(0.2)
    assert bob.model.trust == pytest.approx(0.2)
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING
    assert job.replicas.count() == 2
    _work(carol, run_on_commit, similarity=0.49)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    assert carol.model.trust == pytest.approx(0.4 * 0.8 + 0.2)
    assert alice.model.trust == pytest.approx(0.2 * 0.8 + 0.2)
    assert bob.model.trust == pytest.approx(0.2)
    assert set(CreditEntry.objects.values_list("node_id", flat=True)) == {alice.id, carol.id}
    assert JobResult.objects.get(node_id=bob.id).status == JobResult.Status.SUPERSEDED
    assert len(applied) == 1


def test_no_quorum_after_max_replicas_fails_the_job(
    register_node, clip_job, run_on_commit, settings, applied
):
    settings.MAX_REPLICAS = 1
    alice, bob = register_node(ALICE), register_node(BOB)
    job = clip_job()
    _work(alice, run_on_commit, similarity=0.5)
    _work(bob, run_on_commit, similarity=0.1)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.events.filter(
        kind=JobEvent.Kind.DEAD_LETTERED, message__contains="no two results"
    ).exists()
    assert applied == [] and CreditEntry.objects.count() == 0


def test_semantically_invalid_result_requeues_and_lowers_trust(
    register_node, clip_job, run_on_commit
):
    node = register_node()
    _trust(node, 0.8)
    job = clip_job()
    job_json = node.lease().json()["jobs"][0]
    output = clip_output(job_json["payload"])
    output["scores"][0]["keep"] = not output["scores"][0]["keep"]  # contradicts the threshold
    run_on_commit(node.submit, job_json["lease_id"], output)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.attempts == 1
    result = JobResult.objects.get()
    assert result.status == JobResult.Status.INVALID
    assert "contradict the threshold" in result.rejection_reasons[0]
    assert node.model.invalid_results == 1 and node.model.trust == pytest.approx(0.4)
    assert job.events.filter(kind=JobEvent.Kind.INVALID).exists()


def test_flagged_nodes_are_always_replicated(register_node, clip_job, run_on_commit):
    node = register_node()
    WorkerNode.objects.filter(pk=node.id).update(trust=1.0, is_flagged=True, flag_reason="fast")
    job = clip_job()
    _work(node, run_on_commit)
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING and job.replicas.count() == 1


def test_leaderboard_totals_and_breakdown(register_node, clip_job, run_on_commit, bot_client):
    alice, bob = register_node(ALICE), register_node(BOB)
    _trust(alice, 0.9)
    clip_job(pair_count=2)
    clip_job(pair_count=4)
    _work(alice, run_on_commit)
    _work(alice, run_on_commit)
    clip_job(pair_count=1)
    _work(bob, run_on_commit)  # untrusted: waits for a replica, no credit yet
    board = bot_client.get("/api/v1/leaderboard?limit=5").json()["entries"]
    assert len(board) == 1
    top = board[0]
    assert top["rank"] == 1 and top["credit"] == "0.060" and top["jobs"] == 2
    assert top["breakdown"] == [
        {"kind": "clip_score", "basis": "trusted", "jobs": 2, "credit": "0.060"}
    ]
    nodes = bot_client.get("/api/v1/nodes").json()["results"]
    assert nodes[0]["jobs_done"] == 2 and nodes[0]["credit"] == "0.060"
    assert bot_client.get("/api/v1/leaderboard?limit=0").status_code == 400
