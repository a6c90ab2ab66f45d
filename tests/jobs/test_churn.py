"""A node that leases and gives back without finishing is noticed: releases are counted per
node and per job, a churning node is paused (429 with Retry-After and the reason, shown in
admin and to its owner), and a job given back often skips the nodes that gave it back."""

import re

import pytest

from alexandria.jobs.models import Job, WorkerNode
from tests.jobs.conftest import clip_output, clip_payload

pytestmark = pytest.mark.usefixtures("queue_path")


@pytest.fixture
def churn_settings(settings):
    settings.NODE_CHURN_WINDOW_SECONDS = 600
    settings.NODE_CHURN_MAX_RELEASES = 3
    settings.NODE_CHURN_PAUSE_SECONDS = 900
    settings.JOB_RELEASES_AVOID_AFTER = 2
    settings.JOB_RELEASE_AVOID_SECONDS = 1800
    return settings


def lease_and_release(node, reason="LLM server unreachable: Connection error."):
    """One turn of the loop a node with a dead model server used to run."""
    response = node.exchange(max_jobs=1)
    assert response.status_code == 200, response.content
    (job,) = response.json()["jobs"]
    assert node.fail(job["lease_id"], reason, release=True).status_code == 200
    return job["job_id"]


def test_a_churning_node_is_paused_with_429_and_the_reason(
    register_node, clip_job, churn_settings, staff_client, bot_client_for
):
    node = register_node()
    jobs = [clip_job() for _ in range(4)]
    released = [lease_and_release(node) for _ in range(4)]
    # A requeued job is first in line again, until it was given back twice by this node.
    assert released == [jobs[0].pk, jobs[0].pk, jobs[1].pk, jobs[1].pk]

    refused = node.exchange(max_jobs=1)
    assert refused.status_code == 429
    assert 899 <= int(refused["Retry-After"]) <= 900
    body = refused.json()
    assert body["code"] == "node_paused"
    assert "gave back 4 leases unfinished" in body["detail"]
    assert "handed in 0 results" in body["detail"]
    assert node.lease().status_code == 429  # the lease endpoint too

    stored = node.model
    assert stored.releases == 4 and stored.paused_until is not None
    assert sorted(Job.objects.values_list("releases", flat=True)) == [0, 0, 2, 2]

    # Its owner sees it ...
    listed = bot_client_for("100000000000000001").get("/api/v1/nodes").json()
    (mine,) = listed["results"] if isinstance(listed, dict) else listed
    assert mine["releases"] == 4 and "gave back 4 leases" in mine["pause_reason"]
    # ... and so do moderators, with release counts per node and per job.
    page = staff_client.get("/admin/jobs/workernode/").content.decode()
    assert "gave back 4 leases unfinished" in page
    assert "paused by the server" in page.lower()
    job_page = staff_client.get(f"/admin/jobs/job/{jobs[0].pk}/change/").content.decode()
    assert re.search(r"Releases:</label>\s*<div class=\"readonly\">2</div>", job_page)


def test_a_paused_node_still_hands_its_results_in(register_node, clip_job, churn_settings):
    node = register_node()
    for _ in range(5):
        clip_job()
    (held,) = node.exchange(max_jobs=1).json()["jobs"]
    for _ in range(4):
        lease_and_release(node)
    answer = node.exchange([(held["lease_id"], clip_output(clip_payload()))], max_jobs=4)
    assert answer.status_code == 200
    body = answer.json()
    assert body["results"][0]["status"] == 200 and body["jobs"] == []


def test_releases_within_the_rate_do_not_pause(register_node, clip_job, churn_settings):
    node = register_node()
    for _ in range(3):
        clip_job()
    for _ in range(3):
        lease_and_release(node)
    assert node.exchange(max_jobs=1).status_code == 200
    assert node.model.paused_until is None


def test_a_job_given_back_often_skips_the_nodes_that_gave_it_back(
    register_node, clip_job, churn_settings
):
    churn_settings.NODE_CHURN_MAX_RELEASES = 100
    first = register_node()
    other = register_node("100000000000000002", "gpu-2")
    job = clip_job()
    assert lease_and_release(first) == job.pk
    assert lease_and_release(first) == job.pk  # given back twice now
    assert first.exchange(max_jobs=1).json()["jobs"] == []
    (leased,) = other.exchange(max_jobs=1).json()["jobs"]
    assert leased["job_id"] == job.pk


def test_the_node_reports_its_status(register_node):
    node = register_node()
    response = node.client.post(
        "/api/v1/nodes/me/status",
        {"state": "paused", "reason": "the node's model server was killed by signal 11"},
        format="json",
    )
    assert response.status_code == 200, response.content
    stored = WorkerNode.objects.get(pk=node.id)
    assert (stored.reported_state, stored.reported_at is not None) == ("paused", True)
    assert "signal 11" in node.client.get("/api/v1/nodes/me").json()["reported_reason"]
    bad = node.client.post("/api/v1/nodes/me/status", {"state": "sleeping"}, format="json")
    assert bad.status_code == 400 and "state" in bad.json()["errors"]
