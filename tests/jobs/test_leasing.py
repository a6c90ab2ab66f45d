"""Leasing, heartbeats, failures, expiry and dead-lettering through the node API."""

import threading
from collections import Counter
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alexandria.jobs.models import Job, JobEvent, Lease
from alexandria.jobs.services.leasing import expire_overdue_leases, lease_seconds
from alexandria.jobs.services.lifecycle import cancel_job, create_job
from tests.jobs.conftest import clip_payload, node_client

pytestmark = pytest.mark.usefixtures("queue_path")


def _expire_now(job: Job) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk=job.pk).update(lease_expires_at=past)
    Lease.objects.filter(job=job, state=Lease.State.ACTIVE).update(expires_at=past)


def test_lease_hands_out_jobs_by_priority_with_a_size_scaled_ttl(register_node, clip_job, settings):
    settings.LEASE_MIN_SECONDS = 120
    settings.LEASE_CHARS_PER_SECOND = 200
    node = register_node()
    low = clip_job()
    high = clip_job(pair_count=3, priority=5, size_hint=40_000)
    response = node.lease(max_jobs=5)
    assert response.status_code == 200
    jobs = response.json()["jobs"]
    assert [j["job_id"] for j in jobs] == [high.pk, low.pk]
    assert jobs[0]["lease_seconds"] == 120 + 200
    assert jobs[0]["kind"] == "clip_score" and jobs[0]["kind_version"] == "1"
    assert jobs[0]["payload"] == high.payload
    assert Lease.objects.filter(state=Lease.State.ACTIVE).count() == 2
    high.refresh_from_db()
    assert high.status == Job.Status.LEASED and high.lease_owner_id == node.id
    assert node.lease().json() == {"jobs": []}


def test_the_answer_gives_the_stored_lease_expiry_in_utc(register_node, clip_job):
    node = register_node()
    job = clip_job()
    (leased,) = node.lease().json()["jobs"]
    job.refresh_from_db()
    stored = job.lease_expires_at.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert leased["lease_expires_at"] == stored + "Z"


def test_lease_ttl_is_bounded(settings):
    settings.LEASE_MIN_SECONDS, settings.LEASE_MAX_SECONDS = 120, 3600
    assert lease_seconds(0) == 120
    assert lease_seconds(10**9) == 3600


def test_only_kinds_the_node_runs_and_asked_for(register_node, clip_job):
    clip_job()
    node = register_node()
    assert node.lease(kinds=["extract_graph"]).json()["jobs"] == []
    assert len(node.lease(kinds=["clip_score", "other"]).json()["jobs"]) == 1


@pytest.mark.parametrize("body", [{"max_jobs": 0}, {"max_jobs": 65}, {"max_jobs": "x"}])
def test_lease_batch_size_is_validated(register_node, body):
    response = register_node().client.post("/api/v1/jobs/lease", body, format="json")
    assert response.status_code == 400
    assert "max_jobs" in response.json()["errors"]


def test_expired_lease_is_re_leased_by_the_lease_call_itself(register_node, clip_job):
    first = register_node("100000000000000001")
    second = register_node("100000000000000002")
    job = clip_job()
    old_lease = first.lease().json()["jobs"][0]["lease_id"]
    assert second.lease().json()["jobs"] == []
    _expire_now(job)
    taken = second.lease().json()["jobs"]
    assert [j["job_id"] for j in taken] == [job.pk]
    assert Lease.objects.get(pk=old_lease).state == Lease.State.EXPIRED
    job.refresh_from_db()
    assert job.attempts == 1 and job.lease_owner_id == second.id
    assert JobEvent.objects.filter(job=job, kind=JobEvent.Kind.EXPIRED, node_id=first.id).exists()
    # The first node lost it: heartbeat and submit say so.
    assert first.heartbeat(old_lease).status_code == 409
    late = first.submit(old_lease, {"model": "ViT-B-32", "scores": []})
    assert late.status_code == 409
    assert "another node" in late.json()["detail"]


def test_expiry_at_the_last_attempt_dead_letters(register_node, clip_job):
    node = register_node()
    job = clip_job()
    Job.objects.filter(pk=job.pk).update(max_attempts=1)
    node.lease()
    _expire_now(job)
    assert node.lease().json()["jobs"] == []
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert list(job.events.values_list("kind", flat=True)) == ["expired", "dead_lettered"]


def test_expiry_bookkeeping_requeues_and_a_late_submit_is_still_taken(register_node, clip_job):
    node = register_node()
    job = clip_job()
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    _expire_now(job)
    assert expire_overdue_leases() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.attempts == 1
    response = node.submit(lease_id, _output(job))
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    assert job.status in (Job.Status.VALIDATING, Job.Status.DONE)


def _output(job):
    from tests.jobs.conftest import clip_output

    return clip_output(job.payload)


def test_heartbeat_extends_and_reports_cancellation(register_node, clip_job):
    node = register_node()
    job = clip_job()
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    Lease.objects.filter(pk=lease_id).update(expires_at=timezone.now() + timedelta(seconds=5))
    beat = node.heartbeat(lease_id)
    assert beat.status_code == 200
    assert beat.json()["cancelled"] is False
    assert Lease.objects.get(pk=lease_id).expires_at > timezone.now() + timedelta(seconds=60)
    cancel_job(job, reason="duplicate source")
    assert node.heartbeat(lease_id).json()["cancelled"] is True
    assert node.submit(lease_id, _output(job)).status_code == 409


def test_another_nodes_lease_is_not_found(register_node, clip_job):
    owner = register_node("100000000000000001")
    other = register_node("100000000000000002")
    clip_job()
    lease_id = owner.lease().json()["jobs"][0]["lease_id"]
    assert other.heartbeat(lease_id).status_code == 404
    assert other.submit(lease_id, {"model": "x", "scores": []}).status_code == 404
    assert other.fail(lease_id).status_code == 404


def test_release_costs_no_attempt_and_failures_dead_letter(register_node, clip_job):
    node = register_node()
    job = clip_job()
    Job.objects.filter(pk=job.pk).update(max_attempts=2)
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    assert node.fail(lease_id, "shutting down", release=True).json() == {
        "job_status": "queued",
        "attempts": 0,
    }
    assert node.fail(lease_id).status_code == 409
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    assert node.fail(lease_id, "CUDA out of memory").json() == {
        "job_status": "queued",
        "attempts": 1,
    }
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    assert node.fail(lease_id, "CUDA out of memory again").json() == {
        "job_status": "failed",
        "attempts": 2,
    }
    assert list(job.events.values_list("kind", "message")) == [
        ("released", "shutting down"),
        ("error", "CUDA out of memory"),
        ("error", "CUDA out of memory again"),
        ("dead_lettered", "failed after 2 attempts; see the earlier events"),
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_leasing_never_hands_a_job_out_twice(postgres, register_node):
    payload = clip_payload(1)
    for _ in range(400):
        create_job("clip_score", payload)
    tokens = [register_node(f"1000000000000001{i:02d}", name=f"n{i}").token for i in range(16)]
    leased: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def node_loop(token: str, batch: int) -> None:
        client = node_client(token)
        try:
            while True:
                response = client.post("/api/v1/jobs/lease", {"max_jobs": batch}, format="json")
                if response.status_code != 200:
                    errors.append(response.content.decode())
                    return
                jobs = response.json()["jobs"]
                if not jobs:
                    return
                with lock:
                    leased.extend(job["job_id"] for job in jobs)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=node_loop, args=(token, 1 + i % 4))
        for i, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    duplicates = [job_id for job_id, n in Counter(leased).items() if n > 1]
    assert duplicates == []
    assert len(leased) == 400
    assert Lease.objects.count() == 400
    assert not Job.objects.exclude(status=Job.Status.LEASED).exists()
    assert len({owner for owner in Job.objects.values_list("lease_owner", flat=True)}) > 1
