"""Submitting results: idempotency, conflicts, size limit, schema errors, plausibility."""

import json

import pytest

from alexandria.jobs.models import Job, JobEvent, JobResult
from tests.jobs.conftest import clip_output

pytestmark = pytest.mark.usefixtures("queue_path")


def _leased(node, clip_job, **job_kwargs):
    job = clip_job(**job_kwargs)
    return job, node.lease().json()["jobs"][0]["lease_id"]


def test_submit_is_idempotent_and_a_different_output_conflicts(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    output = clip_output(job.payload)
    first = node.submit(lease_id, output)
    assert first.status_code == 200, first.content
    # The same output with its keys in another order is the same submission.
    reordered = {"scores": output["scores"], "model": output["model"]}
    again = node.submit(lease_id, reordered)
    assert again.status_code == 200
    assert again.json()["result_id"] == first.json()["result_id"]
    assert JobResult.objects.count() == 1
    different = node.submit(lease_id, clip_output(job.payload, similarity=0.1))
    assert different.status_code == 409
    assert "different output" in different.json()["detail"]


def test_output_over_the_limit_is_413(register_node, clip_job, settings):
    settings.RESULT_MAX_BYTES = 2000
    node = register_node()
    job, lease_id = _leased(node, clip_job, pair_count=60)
    response = node.submit(lease_id, clip_output(job.payload))
    assert response.status_code == 413
    assert JobResult.objects.count() == 0


def test_declared_body_over_the_limit_is_413_before_parsing(register_node, clip_job, settings):
    settings.RESULT_MAX_BYTES = 1000
    node = register_node()
    _, lease_id = _leased(node, clip_job)
    body = b"{" + b" " * 200_000  # not even JSON: refused on Content-Length alone
    response = node.client.generic(
        "POST", f"/api/v1/leases/{lease_id}/submit", body, content_type="application/json"
    )
    assert response.status_code == 413


def test_schema_invalid_output_is_400_with_errors_and_counted(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    response = node.submit(lease_id, {"model": "ViT-B-32", "scores": [{"id": "p0"}]})
    assert response.status_code == 400
    body = response.json()
    assert any("similarity" in error for error in body["errors"])
    assert node.model.invalid_results == 1
    assert JobEvent.objects.filter(job=job, kind=JobEvent.Kind.INVALID).exists()
    # The lease stays the node's to report as failed (what the worker does next).
    assert node.fail(lease_id, "backend refused the output").json()["attempts"] == 1


def test_malformed_submission_body_is_400(register_node, clip_job):
    node = register_node()
    _, lease_id = _leased(node, clip_job)
    response = node.client.post(
        f"/api/v1/leases/{lease_id}/submit",
        json.dumps({"output": []}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "output" in response.json()["errors"]


def test_implausible_speed_flags_the_node(register_node, clip_job, settings):
    settings.MAX_PLAUSIBLE_TOKENS_PER_S = 1000
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    stats = {"elapsed_s": 0.5, "prompt_tokens": 10, "completion_tokens": 5000, "model": "m"}
    assert node.submit(lease_id, clip_output(job.payload), stats).status_code == 200
    flagged = node.model
    assert flagged.is_flagged
    assert "5000 completion tokens" in flagged.flag_reason
    assert node.client.get("/api/v1/nodes/me").json()["is_flagged"] is True


def test_submit_moves_the_job_to_validation(
    register_node, clip_job, django_capture_on_commit_callbacks
):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    with django_capture_on_commit_callbacks() as callbacks:
        response = node.submit(lease_id, clip_output(job.payload))
    assert response.json()["status"] == "pending"
    assert len(callbacks) == 1  # validate_result is enqueued once the transaction commits
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING
