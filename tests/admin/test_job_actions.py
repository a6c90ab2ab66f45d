import pytest
from rest_framework.test import APIClient

from alexandria.jobs.models import Job, JobEvent, Lease, WorkerNode


def _node_me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {token}")
    return client.get("/api/v1/nodes/me")


def _messages(staff_client, response) -> list[str]:
    return [str(m) for m in staff_client.get(response["Location"]).context["messages"]]


def test_requeue_puts_a_failed_job_back_with_fresh_attempts(world, run_action):
    response = run_action(Job, "requeue", [world.failed_job])
    assert response.status_code == 302
    job = Job.objects.get(pk=world.failed_job.pk)
    assert (job.status, job.attempts, job.finished_at) == (Job.Status.QUEUED, 0, None)
    event = job.events.order_by("-id").first()
    assert event.kind == JobEvent.Kind.REQUEUED
    assert "moderator" in event.message


def test_cancelled_job_can_be_requeued(world, run_action):
    run_action(Job, "cancel", [world.leased_job])
    run_action(Job, "requeue", [world.leased_job])
    job = Job.objects.get(pk=world.leased_job.pk)
    assert (job.status, job.attempts, job.lease_owner) == (Job.Status.QUEUED, 0, None)
    assert Lease.objects.get(pk=world.lease.pk).state == Lease.State.CANCELLED


def test_cancel_stops_a_leased_job(world, run_action):
    response = run_action(Job, "cancel", [world.leased_job])
    assert response.status_code == 302
    job = Job.objects.get(pk=world.leased_job.pk)
    assert job.status == Job.Status.CANCELLED
    assert job.finished_at is not None
    assert job.lease_owner is None
    assert Lease.objects.get(pk=world.lease.pk).state == Lease.State.CANCELLED
    assert job.events.filter(kind=JobEvent.Kind.CANCELLED).exists()


def test_jobs_in_the_wrong_state_are_left_alone_with_a_message(world, run_action, staff_client):
    response = run_action(Job, "cancel", [world.done_job, world.leased_job])
    shown = _messages(staff_client, response)
    assert f"Job #{world.done_job.pk} is done; only queued, leased or validating" in shown[0]
    assert Job.objects.get(pk=world.done_job.pk).status == Job.Status.DONE
    assert Job.objects.get(pk=world.leased_job.pk).status == Job.Status.CANCELLED

    response = run_action(Job, "requeue", [world.done_job])
    shown = _messages(staff_client, response)
    assert f"Job #{world.done_job.pk} is done; only failed or cancelled" in shown[0]
    assert Job.objects.get(pk=world.done_job.pk).status == Job.Status.DONE


def test_priority_is_editable_but_status_is_not(world, staff_client):
    url = f"/admin/jobs/job/{world.failed_job.pk}/change/"
    form = {
        "priority": "7",
        "max_attempts": "9",
        "status": "done",
        **{f"{prefix}-TOTAL_FORMS": "0" for prefix in ("events", "leases", "results")},
        **{f"{prefix}-INITIAL_FORMS": "0" for prefix in ("events", "leases", "results")},
    }
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = Job.objects.get(pk=world.failed_job.pk)
    assert (job.priority, job.max_attempts, job.status) == (7, 9, Job.Status.FAILED)


def test_revoke_makes_the_node_token_refused(world, run_action):
    assert _node_me(world.node_token).status_code == 200
    response = run_action(WorkerNode, "revoke_token", [world.node])
    assert response.status_code == 302
    node = WorkerNode.objects.get(pk=world.node.pk)
    assert node.revoked_at is not None
    refused = _node_me(world.node_token)
    assert refused.status_code == 403
    assert "revoked" in refused.json()["detail"]


def test_revoke_returns_the_nodes_jobs_to_the_queue(world, run_action):
    run_action(WorkerNode, "revoke_token", [world.node])
    job = Job.objects.get(pk=world.leased_job.pk)
    assert (job.status, job.lease_owner, job.attempts) == (Job.Status.QUEUED, None, 1)
    assert Lease.objects.get(pk=world.lease.pk).state == Lease.State.RELEASED
    assert job.events.get(kind=JobEvent.Kind.RELEASED).node == world.node


def test_revoking_twice_keeps_the_first_time(world, run_action):
    run_action(WorkerNode, "revoke_token", [world.node])
    first = WorkerNode.objects.get(pk=world.node.pk).revoked_at
    run_action(WorkerNode, "revoke_token", [world.node])
    assert WorkerNode.objects.get(pk=world.node.pk).revoked_at == first


def test_set_trust_asks_for_a_value_and_sets_it(world, run_action):
    page = run_action(WorkerNode, "set_trust", [world.node])
    assert page.status_code == 200
    assert 'name="trust"' in page.content.decode()
    response = run_action(WorkerNode, "set_trust", [world.node], apply="yes", trust="0.8")
    assert response.status_code == 302
    assert WorkerNode.objects.get(pk=world.node.pk).trust == 0.8


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high", ""])
def test_set_trust_refuses_values_outside_0_to_1(world, run_action, value):
    page = run_action(WorkerNode, "set_trust", [world.node], apply="yes", trust=value)
    assert page.status_code == 200
    assert page.context["form"].errors["trust"]
    assert WorkerNode.objects.get(pk=world.node.pk).trust == 0.0


def test_unflag_clears_the_flag(world, run_action):
    WorkerNode.objects.filter(pk=world.node.pk).update(
        is_flagged=True, flag_reason="too many invalid results"
    )
    response = run_action(WorkerNode, "unflag", [world.node])
    assert response.status_code == 302
    node = WorkerNode.objects.get(pk=world.node.pk)
    assert (node.is_flagged, node.flag_reason) == (False, "")
