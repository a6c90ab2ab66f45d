"""POST /jobs/exchange: hand results in and lease more work in one call, each result judged
as POST /leases/<id>/submit would judge it."""

import json
import threading
import uuid
from datetime import datetime, timedelta

import psycopg
import pytest
from django.db import DataError, connection
from django.utils import timezone

from alexandria.jobs import pg_queue
from alexandria.jobs.apis import JobsExchangeApi
from alexandria.jobs.dispatch import dispatcher
from alexandria.jobs.models import Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.services.leasing import expire_overdue_leases, lease_seconds
from alexandria.jobs.services.lifecycle import cancel_job
from tests.jobs.conftest import clip_output, node_client

pytestmark = pytest.mark.usefixtures("queue_path", "exchange_route")

ALICE, BOB = "100000000000000001", "100000000000000002"
EXCHANGE = "/api/v1/jobs/exchange"
MIDDLEWARE = "alexandria.jobs.exchange_middleware.NodeExchangeMiddleware"
OUTCOME_KEYS = {"lease_id", "status", "result_id", "result_status", "detail", "errors"}


@pytest.fixture(params=["middleware", "view"])
def exchange_route(request, settings) -> str:
    """Node calls are answered by NodeExchangeMiddleware; without it, JobsExchangeApi answers
    them. Every test here holds both to the same answers."""
    if request.param == "view":
        settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    else:
        assert MIDDLEWARE in settings.MIDDLEWARE
    return request.param


# For tests whose subject is not the route (the parser, plans of statements): run them once.
ONE_ROUTE = pytest.mark.parametrize("exchange_route", ["middleware"], indirect=True)


def _leased(node, clip_job, **job_kwargs):
    job = clip_job(**job_kwargs)
    return job, node.lease().json()["jobs"][0]["lease_id"]


def _expire_now(job: Job) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk=job.pk).update(lease_expires_at=past)
    Lease.objects.filter(job=job, state=Lease.State.ACTIVE).update(expires_at=past)


def _trust(node, value):
    WorkerNode.objects.filter(pk=node.id).update(trust=value)


def _ok(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "jobs"}
    for outcome in body["results"]:
        assert set(outcome) == OUTCOME_KEYS
    return body


# --- handing in and leasing in one call -----------------------------------------------------


def test_results_are_handed_in_and_new_jobs_leased_in_one_call(
    register_node, clip_job, django_capture_on_commit_callbacks
):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    low = clip_job()
    high = clip_job(pair_count=3, priority=5)
    with django_capture_on_commit_callbacks() as callbacks:
        body = _ok(node.exchange([(lease_id, clip_output(job.payload))], max_jobs=5))
    (outcome,) = body["results"]
    result = JobResult.objects.get()
    assert outcome == {
        "lease_id": lease_id,
        "status": 200,
        "result_id": result.pk,
        "result_status": "pending",
        "detail": "",
        "errors": None,
    }
    assert len(callbacks) == 1  # the results go to validation once the transaction commits
    assert result.job_id == job.pk and str(result.lease_id) == lease_id
    assert result.output == clip_output(job.payload) and result.stats == {"elapsed_s": 1.0}
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING and job.lease_expires_at is None
    assert Lease.objects.get(pk=lease_id).state == Lease.State.SUBMITTED
    assert [j["job_id"] for j in body["jobs"]] == [high.pk, low.pk]
    for high_or_low in (high, low):
        high_or_low.refresh_from_db()
        assert high_or_low.status == Job.Status.LEASED
        assert high_or_low.lease_owner_id == node.id


def test_leased_jobs_have_the_shape_of_the_lease_endpoints(register_node, clip_job, settings):
    settings.LEASE_MIN_SECONDS = 120
    settings.LEASE_CHARS_PER_SECOND = 200
    node = register_node()
    by_lease = clip_job(priority=1, size_hint=10_000)
    by_exchange = clip_job(size_hint=40_000)
    (leased,) = node.lease().json()["jobs"]
    (exchanged,) = _ok(node.exchange(max_jobs=1))["jobs"]
    assert leased["job_id"] == by_lease.pk and exchanged["job_id"] == by_exchange.pk
    assert set(exchanged) == set(leased)
    assert {k: type(v) for k, v in exchanged.items()} == {k: type(v) for k, v in leased.items()}
    lease = Lease.objects.get(pk=exchanged["lease_id"])
    assert lease.job_id == by_exchange.pk and lease.node_id == node.id
    assert lease.state == Lease.State.ACTIVE
    assert exchanged["kind"] == "clip_score" and exchanged["kind_version"] == "1"
    assert exchanged["payload"] == by_exchange.payload
    assert exchanged["lease_seconds"] == lease_seconds(40_000) == 120 + 200
    assert exchanged["lease_expires_at"].endswith("Z")
    expires_at = datetime.fromisoformat(exchanged["lease_expires_at"])
    assert expires_at == lease.expires_at
    by_exchange.refresh_from_db()
    assert by_exchange.lease_expires_at == lease.expires_at


def test_max_jobs_zero_only_hands_in(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    waiting = clip_job()
    body = _ok(node.exchange([(lease_id, clip_output(job.payload))], max_jobs=0))
    assert body["jobs"] == [] and body["results"][0]["status"] == 200
    # max_jobs defaults to 0 too.
    assert _ok(node.exchange())["jobs"] == []
    waiting.refresh_from_db()
    assert waiting.status == Job.Status.QUEUED
    assert Lease.objects.filter(job=waiting).count() == 0


def test_an_empty_exchange_leases_like_the_lease_endpoint(register_node, clip_job):
    node = register_node()
    assert _ok(node.exchange()) == {"results": [], "jobs": []}
    assert _ok(node.exchange(max_jobs=3)) == {"results": [], "jobs": []}  # nothing queued
    first, second = clip_job(), clip_job()
    assert _ok(node.exchange(max_jobs=1, kinds=["extract_graph"]))["jobs"] == []
    body = _ok(node.exchange(max_jobs=64, kinds=["clip_score", "other"]))
    assert [j["job_id"] for j in body["jobs"]] == [first.pk, second.pk]


# --- per-item outcomes ------------------------------------------------------------------------


def test_another_nodes_lease_and_an_unknown_lease_are_404_per_item(register_node, clip_job):
    owner = register_node(ALICE)
    other = register_node(BOB)
    job, lease_id = _leased(owner, clip_job)
    unknown = str(uuid.uuid4())
    body = _ok(other.exchange([(lease_id, clip_output(job.payload)), (unknown, {"x": 1})]))
    assert body["results"] == [
        {
            "lease_id": lease_id,
            "status": 404,
            "result_id": None,
            "result_status": None,
            "detail": "No such lease.",
            "errors": None,
        },
        {
            "lease_id": unknown,
            "status": 404,
            "result_id": None,
            "result_status": None,
            "detail": "No such lease.",
            "errors": None,
        },
    ]
    assert JobResult.objects.count() == 0
    assert Lease.objects.get(pk=lease_id).state == Lease.State.ACTIVE
    assert other.model.invalid_results == 0
    # The owner can still hand it in.
    (taken,) = _ok(owner.exchange([(lease_id, clip_output(job.payload))]))["results"]
    assert taken["status"] == 200


def test_identical_repeat_is_200_with_the_same_result_and_a_different_output_409(
    register_node, clip_job
):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    output = clip_output(job.payload)
    first = _ok(node.exchange([(lease_id, output)]))["results"][0]
    assert first["status"] == 200
    # The same output with its keys in another order is the same submission.
    reordered = {"scores": output["scores"], "model": output["model"]}
    again = _ok(node.exchange([(lease_id, reordered)]))["results"][0]
    assert again == first
    # The submit endpoint agrees about what the exchange took, and the other way round.
    submitted = node.submit(lease_id, output)
    assert submitted.status_code == 200
    assert submitted.json() == {"result_id": first["result_id"], "status": "pending"}
    different = _ok(node.exchange([(lease_id, clip_output(job.payload, similarity=0.1))]))
    (conflict,) = different["results"]
    assert conflict["status"] == 409 and "different output" in conflict["detail"]
    assert conflict["result_id"] is None and conflict["result_status"] is None
    assert conflict["errors"] is None
    assert JobResult.objects.count() == 1
    assert node.submit(lease_id, clip_output(job.payload, similarity=0.1)).status_code == 409


def test_a_result_submitted_through_the_submit_endpoint_repeats_through_exchange(
    register_node, clip_job
):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    result_id = node.submit(lease_id, clip_output(job.payload)).json()["result_id"]
    (outcome,) = _ok(node.exchange([(lease_id, clip_output(job.payload))]))["results"]
    assert outcome["status"] == 200 and outcome["result_id"] == result_id


def test_a_lease_expired_and_re_leased_to_another_node_is_409(register_node, clip_job):
    first = register_node(ALICE)
    second = register_node(BOB)
    job = clip_job()
    old_lease = first.lease().json()["jobs"][0]["lease_id"]
    _expire_now(job)
    taken = _ok(second.exchange(max_jobs=1))["jobs"]
    assert [j["job_id"] for j in taken] == [job.pk]
    assert Lease.objects.get(pk=old_lease).state == Lease.State.EXPIRED
    (late,) = _ok(first.exchange([(old_lease, clip_output(job.payload))]))["results"]
    assert late["status"] == 409 and "another node" in late["detail"]
    assert JobResult.objects.count() == 0
    # The new holder hands it in.
    (done,) = _ok(second.exchange([(taken[0]["lease_id"], clip_output(job.payload))]))["results"]
    assert done["status"] == 200
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING


def test_a_late_result_is_taken_while_nobody_else_holds_the_job(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    _expire_now(job)
    assert expire_overdue_leases() == 1
    (late,) = _ok(node.exchange([(lease_id, clip_output(job.payload))]))["results"]
    assert late["status"] == 200, late
    job.refresh_from_db()
    assert job.status == Job.Status.VALIDATING


def test_a_cancelled_jobs_lease_is_409(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    cancel_job(job, reason="duplicate source")
    (outcome,) = _ok(node.exchange([(lease_id, clip_output(job.payload))]))["results"]
    assert outcome["status"] == 409 and "cancelled" in outcome["detail"]
    assert JobResult.objects.count() == 0


def test_schema_invalid_output_is_400_per_item_and_counted(register_node, clip_job):
    node = register_node()
    _trust(node, 0.8)
    job, lease_id = _leased(node, clip_job)
    body = _ok(node.exchange([(lease_id, {"model": "ViT-B-32", "scores": [{"id": "p0"}]})]))
    (outcome,) = body["results"]
    assert outcome["status"] == 400
    assert outcome["result_id"] is None and outcome["result_status"] is None
    assert "output schema" in outcome["detail"]
    assert isinstance(outcome["errors"], list)
    assert any("similarity" in error for error in outcome["errors"])
    assert JobResult.objects.count() == 0
    model = node.model
    assert model.invalid_results == 1
    assert model.trust == pytest.approx(0.4)
    event = JobEvent.objects.get(job=job, kind=JobEvent.Kind.INVALID)
    assert event.node_id == node.id and "similarity" in event.message
    # The lease stays the node's: it may still hand in a good output (or report a failure).
    assert Lease.objects.get(pk=lease_id).state == Lease.State.ACTIVE
    (fixed,) = _ok(node.exchange([(lease_id, clip_output(job.payload))]))["results"]
    assert fixed["status"] == 200


def test_each_invalid_output_in_a_batch_counts(register_node, clip_job):
    node = register_node()
    _trust(node, 0.8)
    clip_job(), clip_job()
    leases = [j["lease_id"] for j in node.lease(max_jobs=2).json()["jobs"]]
    body = _ok(node.exchange([(lease_id, {"model": "m", "scores": "no"}) for lease_id in leases]))
    assert [outcome["status"] for outcome in body["results"]] == [400, 400]
    model = node.model
    assert model.invalid_results == 2
    assert model.trust == pytest.approx(0.2)
    assert JobEvent.objects.filter(kind=JobEvent.Kind.INVALID, node_id=node.id).count() == 2


def test_output_over_result_max_bytes_is_413_per_item(register_node, clip_job, settings):
    settings.RESULT_MAX_BYTES = 2000
    node = register_node()
    big, big_lease = _leased(node, clip_job, pair_count=60)
    small, small_lease = _leased(node, clip_job)
    body = _ok(
        node.exchange(
            [(big_lease, clip_output(big.payload)), (small_lease, clip_output(small.payload))]
        )
    )
    too_large, taken = body["results"]
    assert too_large["status"] == 413 and too_large["lease_id"] == big_lease
    assert "2,000 bytes" in too_large["detail"]
    assert too_large["result_id"] is None and too_large["errors"] is None
    assert taken["status"] == 200
    assert list(JobResult.objects.values_list("job_id", flat=True)) == [small.pk]
    assert Lease.objects.get(pk=big_lease).state == Lease.State.ACTIVE
    assert node.model.invalid_results == 0


def test_a_mixed_batch_judges_each_item_and_keeps_request_order(register_node, clip_job, settings):
    settings.RESULT_MAX_BYTES = 2000
    node = register_node(ALICE)
    other = register_node(BOB)
    _trust(node, 0.8)
    jobs = [clip_job() for _ in range(4)] + [clip_job(pair_count=60)]
    leases = [j["lease_id"] for j in node.lease(max_jobs=5).json()["jobs"]]
    assert len(leases) == 5
    repeat_job, good_job, invalid_job, conflict_job, big_job = jobs
    repeat_lease, good_lease, invalid_lease, conflict_lease, big_lease = leases
    repeat_id = node.submit(repeat_lease, clip_output(repeat_job.payload)).json()["result_id"]
    conflict_id = node.submit(conflict_lease, clip_output(conflict_job.payload)).json()["result_id"]
    clip_job()
    foreign_job, foreign_lease = _leased(other, clip_job)
    unknown = str(uuid.uuid4())
    # Deliberately not in job or lease order.
    request = [
        (big_lease, clip_output(big_job.payload)),
        (unknown, clip_output(good_job.payload)),
        (good_lease, clip_output(good_job.payload), {"elapsed_s": 2.5, "model": "ViT-B-32"}),
        (conflict_lease, clip_output(conflict_job.payload, similarity=0.2)),
        (foreign_lease, clip_output(foreign_job.payload)),
        (invalid_lease, {"model": "ViT-B-32", "scores": [{"id": "p0"}]}),
        (repeat_lease, clip_output(repeat_job.payload)),
    ]
    body = _ok(node.exchange(request, max_jobs=1))
    outcomes = body["results"]
    assert [o["lease_id"] for o in outcomes] == [str(item[0]) for item in request]
    assert [o["status"] for o in outcomes] == [413, 404, 200, 409, 404, 400, 200]
    good = outcomes[2]
    assert good["result_status"] == "pending" and good["detail"] == ""
    stored = JobResult.objects.get(pk=good["result_id"])
    assert stored.job_id == good_job.pk
    assert stored.stats == {"elapsed_s": 2.5, "model": "ViT-B-32"}
    assert outcomes[3]["result_id"] is None and "different output" in outcomes[3]["detail"]
    assert outcomes[5]["errors"] and outcomes[5]["result_id"] is None
    assert outcomes[6]["result_id"] == repeat_id
    assert set(JobResult.objects.values_list("pk", flat=True)) == {
        repeat_id,
        conflict_id,
        good["result_id"],
    }
    statuses = dict(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("pk", "status"))
    assert statuses == {
        repeat_job.pk: Job.Status.VALIDATING,
        good_job.pk: Job.Status.VALIDATING,
        invalid_job.pk: Job.Status.LEASED,
        conflict_job.pk: Job.Status.VALIDATING,
        big_job.pk: Job.Status.LEASED,
    }
    assert node.model.invalid_results == 1 and node.model.trust == pytest.approx(0.4)
    assert Lease.objects.get(pk=foreign_lease).state == Lease.State.ACTIVE
    assert len(body["jobs"]) == 1  # the one job still queued


def test_implausible_speed_through_exchange_flags_the_node(register_node, clip_job, settings):
    settings.MAX_PLAUSIBLE_TOKENS_PER_S = 1000
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    stats = {"elapsed_s": 0.5, "prompt_tokens": 10, "completion_tokens": 5000, "model": "m"}
    (outcome,) = _ok(node.exchange([(lease_id, clip_output(job.payload), stats)]))["results"]
    assert outcome["status"] == 200
    flagged = node.model
    assert flagged.is_flagged and "5000 completion tokens" in flagged.flag_reason


# --- whole-request refusals --------------------------------------------------------------


def _nothing_changed(lease_id):
    assert JobResult.objects.count() == 0
    assert Lease.objects.get(pk=lease_id).state == Lease.State.ACTIVE


def test_duplicate_lease_ids_refuse_the_whole_request(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    clip_job()
    output = clip_output(job.payload)
    response = node.exchange([(lease_id, output), (lease_id, output)], max_jobs=1)
    assert response.status_code == 400
    assert "results" in response.json()["errors"]
    _nothing_changed(lease_id)
    assert Lease.objects.count() == 1  # nothing leased either


def test_more_than_64_results_refuse_the_whole_request(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    results = [(lease_id, clip_output(job.payload))] + [
        (uuid.uuid4(), {"model": "m", "scores": []}) for _ in range(64)
    ]
    response = node.exchange(results)
    assert response.status_code == 400
    assert "results" in response.json()["errors"]
    _nothing_changed(lease_id)
    # 64 is allowed.
    assert len(_ok(node.exchange(results[:64]))["results"]) == 64
    assert JobResult.objects.count() == 1


@pytest.mark.parametrize("max_jobs", [-1, 65, "x", None])
def test_max_jobs_out_of_range_refuses_the_whole_request(register_node, clip_job, max_jobs):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    response = node.exchange([(lease_id, clip_output(job.payload))], max_jobs=max_jobs)
    assert response.status_code == 400
    assert "max_jobs" in response.json()["errors"]
    _nothing_changed(lease_id)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"results": {}}',
        b'{"results": [{"lease_id": "nope", "output": {}}]}',
        b'{"results": [{"lease_id": "00000000-0000-0000-0000-000000000000"}]}',
        b'{"results": [{"lease_id": "00000000-0000-0000-0000-000000000000", "output": []}]}',
        b'{"kinds": "clip_score"}',
    ],
)
def test_a_malformed_envelope_is_400(register_node, body):
    node = register_node()
    response = node.client.generic("POST", EXCHANGE, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


def test_nodes_get_json_whatever_they_accept_and_only_json_is_read(register_node, clip_job):
    node = register_node()
    clip_job()
    response = node.client.generic(
        "POST",
        EXCHANGE,
        b'{"max_jobs": 1}',
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert len(response.json()["jobs"]) == 1
    form = node.client.generic(
        "POST", EXCHANGE, b"max_jobs=1", content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415 and form["Content-Type"] == "application/json"
    assert "Unsupported media type" in form.json()["detail"]


def test_a_request_over_exchange_max_bytes_is_413_before_parsing(register_node, clip_job, settings):
    settings.EXCHANGE_MAX_BYTES = 1000
    node = register_node()
    _, lease_id = _leased(node, clip_job)
    body = b"{" + b" " * 200_000  # not even JSON: refused on Content-Length alone
    response = node.client.generic("POST", EXCHANGE, body, content_type="application/json")
    assert response.status_code == 413
    assert "1,000 bytes" in response.json()["detail"]
    _nothing_changed(lease_id)


def test_exchange_max_bytes_is_inclusive(register_node, clip_job, settings):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    clip_job()
    body = json.dumps(
        {
            "results": [{"lease_id": lease_id, "output": clip_output(job.payload)}],
            "max_jobs": 1,
        }
    ).encode()
    settings.EXCHANGE_MAX_BYTES = len(body) - 1
    response = node.client.generic("POST", EXCHANGE, body, content_type="application/json")
    assert response.status_code == 413
    _nothing_changed(lease_id)
    assert Lease.objects.count() == 1
    settings.EXCHANGE_MAX_BYTES = len(body)
    response = node.client.generic("POST", EXCHANGE, body, content_type="application/json")
    body = _ok(response)
    assert body["results"][0]["status"] == 200 and len(body["jobs"]) == 1


def test_exchange_needs_a_node_token(register_node, anonymous_client, bot_client):
    assert anonymous_client.post(EXCHANGE, {}, format="json").status_code == 401
    assert bot_client.post(EXCHANGE, {}, format="json").status_code in (401, 403)
    node = register_node()  # bot_client acts for this node's owner
    assert bot_client.post(f"/api/v1/nodes/{node.id}/revoke", {}, format="json").status_code == 200
    assert node.exchange().status_code == 403


def test_an_unknown_node_token_is_401_with_the_node_challenge(anonymous_client, db):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Node not-a-token")
    response = anonymous_client.post(EXCHANGE, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Node realm="api"'
    assert response.json() == {"detail": "Unknown node token."}


def test_exchanges_count_against_the_node_rate_limit(register_node, clip_job, node_rates):
    node_rates({"node": "2/min"})
    node = register_node()
    clip_job()
    assert [node.exchange(max_jobs=0).status_code for _ in range(2)] == [200, 200]
    refused = node.exchange(max_jobs=1)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"]
    assert Lease.objects.count() == 0


def test_an_empty_body_hands_in_nothing_and_leases_nothing(register_node, clip_job):
    node = register_node()
    clip_job()
    response = node.client.generic("POST", EXCHANGE, b"", content_type="application/json")
    assert _ok(response) == {"results": [], "jobs": []}


def test_the_answer_has_the_headers_of_a_drf_response(register_node, clip_job):
    node = register_node()
    clip_job()
    response = node.exchange(max_jobs=1)
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST, OPTIONS" and not response.has_header("Vary")
    assert int(response["Content-Length"]) == len(response.content)
    assert response["X-Content-Type-Options"] == "nosniff"  # the security middleware ran


def test_node_calls_skip_the_view_and_other_calls_reach_it(
    register_node, clip_job, exchange_route, anonymous_client, monkeypatch
):
    def refuse(*args):
        raise AssertionError("JobsExchangeApi answered a node's call")

    monkeypatch.setattr(JobsExchangeApi, "post", refuse)
    node = register_node()
    clip_job()
    if exchange_route == "middleware":
        assert len(_ok(node.exchange(max_jobs=1))["jobs"]) == 1
    else:
        with pytest.raises(AssertionError, match="JobsExchangeApi answered"):
            node.exchange(max_jobs=1)
    anonymous = anonymous_client.post(EXCHANGE, {}, format="json")
    assert anonymous.status_code == 401  # from DRF, on either route
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}


# --- replication through exchange -----------------------------------------------------------


def test_a_replica_never_goes_to_the_contributor_of_the_primarys_result(
    register_node, clip_job, run_on_commit
):
    alice = register_node(ALICE, name="a1")
    alice_two = register_node(ALICE, name="a2")
    bob = register_node(BOB, name="b1")
    job = clip_job()
    (leased,) = _ok(alice.exchange(max_jobs=1))["jobs"]
    response = run_on_commit(
        alice.exchange, [(leased["lease_id"], clip_output(job.payload))], max_jobs=5
    )
    assert _ok(response)["results"][0]["status"] == 200
    replica = Job.objects.get(replica_of=job)  # alice is untrusted: her result is replicated
    assert replica.status == Job.Status.QUEUED
    assert _ok(alice.exchange(max_jobs=5))["jobs"] == []
    assert _ok(alice_two.exchange(max_jobs=5))["jobs"] == []
    (taken,) = _ok(bob.exchange(max_jobs=5))["jobs"]
    assert taken["job_id"] == replica.pk and taken["payload"] == job.payload
    response = run_on_commit(
        bob.exchange, [(taken["lease_id"], clip_output(job.payload, similarity=0.51))]
    )
    assert _ok(response)["results"][0]["status"] == 200
    job.refresh_from_db()
    assert job.status == Job.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_a_replica_made_while_the_exchange_runs_is_not_leased_back_to_its_contributor(
    register_node, clip_job
):
    """With real commits, validation (eager here) runs when the results' transaction commits,
    before the same request leases: the replica it queues already exists then."""
    alice = register_node(ALICE, name="a1")
    alice_two = register_node(ALICE, name="a2")
    bob = register_node(BOB, name="b1")
    job = clip_job()
    (leased,) = _ok(alice.exchange(max_jobs=1))["jobs"]
    body = _ok(alice.exchange([(leased["lease_id"], clip_output(job.payload))], max_jobs=5))
    assert body["results"][0]["status"] == 200
    replica = Job.objects.get(replica_of=job)
    assert body["jobs"] == []
    assert _ok(alice_two.exchange(max_jobs=5))["jobs"] == []
    assert [j["job_id"] for j in _ok(bob.exchange(max_jobs=5))["jobs"]] == [replica.pk]


def test_a_flagged_node_verifies_nobody_through_exchange(register_node, clip_job, run_on_commit):
    alice = register_node(ALICE)
    bob = register_node(BOB)
    job = clip_job()
    (leased,) = _ok(alice.exchange(max_jobs=1))["jobs"]
    run_on_commit(alice.exchange, [(leased["lease_id"], clip_output(job.payload))])
    assert Job.objects.filter(replica_of=job).exists()
    WorkerNode.objects.filter(pk=bob.id).update(is_flagged=True, flag_reason="too fast")
    assert _ok(bob.exchange(max_jobs=5))["jobs"] == []


# --- both implementations -------------------------------------------------------------------


def test_the_queue_path_in_use_is_the_one_asked_for(
    register_node, clip_job, queue_path, monkeypatch
):
    calls = []
    for name in ("lock_node_leases", "store_and_lease"):
        real = getattr(pg_queue, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(pg_queue, name, spy)
    node = register_node()
    job = clip_job()
    (leased,) = _ok(node.exchange(max_jobs=1))["jobs"]
    assert (
        _ok(node.exchange([(leased["lease_id"], clip_output(job.payload))]))["results"][0]["status"]
        == 200
    )
    if queue_path == "pg_queue":
        assert calls == ["store_and_lease", "lock_node_leases", "store_and_lease"]
    else:
        assert calls == []


@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
def test_the_hot_statements_are_prepared_on_the_server(postgres, register_node, clip_job):
    """psycopg ignores ``prepare=True`` on a connection without a prepare threshold (Django's
    default): the statements would be parsed and planned on every call."""
    node = register_node()
    job = clip_job()
    (leased,) = _ok(node.exchange(max_jobs=1))["jobs"]
    _ok(node.exchange([(leased["lease_id"], clip_output(job.payload))]))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false")
        prepared = [row[0] for row in cursor.fetchall()]
    for statement in (
        pg_queue._NODE_BY_HASH,
        pg_queue._LOCK_LEASE_JOBS,
        pg_queue._LEASES_WITH_RESULTS,
        pg_queue._STORE_RESULTS,
    ):
        marker = statement.split("%(")[0].strip()
        assert any(text.strip().startswith(marker) for text in prepared), marker
    assert any("FOR UPDATE OF j SKIP LOCKED" in text for text in prepared)


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_of_one_batch_store_each_result_once(postgres, register_node, clip_job):
    """A node retrying a batch whose answer it lost, while the first try still runs (in
    another order): every try gets the same result ids, and no lock waits deadlock."""
    node = register_node()
    jobs = [clip_job() for _ in range(12)]
    leased = _ok(node.exchange(max_jobs=12))["jobs"]
    payloads = {job.pk: job.payload for job in jobs}
    batch = [(j["lease_id"], clip_output(payloads[j["job_id"]])) for j in leased]
    answers: list = []
    errors: list = []
    lock = threading.Lock()

    def hand_in(items) -> None:
        try:
            response = node_client(node.token).post(
                EXCHANGE,
                {"results": [{"lease_id": lid, "output": out} for lid, out in items]},
                format="json",
            )
            with lock:
                if response.status_code != 200:
                    errors.append(response.content.decode())
                else:
                    outcomes = response.json()["results"]
                    answers.append({o["lease_id"]: (o["status"], o["result_id"]) for o in outcomes})
        finally:
            connection.close()

    threads = [
        threading.Thread(target=hand_in, args=(batch if i % 2 else batch[::-1],)) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(answers) == 8
    assert all(answer == answers[0] for answer in answers)
    assert {status for status, _ in answers[0].values()} == {200}
    assert JobResult.objects.count() == 12
    assert set(answers[0]) == {lid for lid, _ in batch}


def _spy_on_psycopg_commits(monkeypatch) -> list[bool]:
    """Whether each psycopg-level commit that found a transaction to end was sent inside a
    pipeline (with other statements) or alone."""
    sent: list[bool] = []
    real_commit = psycopg.Connection.commit

    def commit(conn):
        in_pipeline = conn.info.pipeline_status != psycopg.pq.PipelineStatus.OFF
        if in_pipeline or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            sent.append(in_pipeline)
        return real_commit(conn)

    monkeypatch.setattr(psycopg.Connection, "commit", commit)
    return sent


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_the_store_the_lease_and_the_commit_go_in_one_round_trip(
    postgres, register_node, clip_job, monkeypatch
):
    """In the outermost transaction the COMMIT goes with the store and the lease; what it
    committed is there for other connections, and the results still go to validation once
    it has committed."""
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    following = clip_job()
    announced: list = []
    monkeypatch.setattr(dispatcher, "announce", announced.append)
    sent = _spy_on_psycopg_commits(monkeypatch)
    body = _ok(node.exchange([(lease_id, clip_output(job.payload))], max_jobs=1))
    assert sent == [True]  # Django's own commit then found nothing left to commit
    (outcome,) = body["results"]
    assert announced == [[outcome["result_id"]]]
    assert [j["job_id"] for j in body["jobs"]] == [following.pk]
    with psycopg.connect(**connection.get_connection_params()) as other:
        assert other.execute(
            "SELECT status FROM jobs_job WHERE id = ANY(%s) ORDER BY id", [[job.pk, following.pk]]
        ).fetchall() == [("validating",), ("leased",)]
        assert other.execute(
            "SELECT lease_id FROM jobs_jobresult WHERE id = %s", [outcome["result_id"]]
        ).fetchone() == (uuid.UUID(lease_id),)


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_when_overdue_leases_wait_they_are_taken_over_after_the_committed_store(
    postgres, register_node, clip_job, monkeypatch
):
    """The lease statement leases nothing while overdue leases wait; its COMMIT has gone
    with the store, so the general lease path takes them over in a transaction of its own."""
    first, second = register_node(ALICE), register_node(BOB)
    overdue, _ = _leased(first, clip_job)
    job, lease_id = _leased(second, clip_job)
    _expire_now(overdue)
    monkeypatch.setattr(dispatcher, "announce", lambda result_ids: None)
    sent = _spy_on_psycopg_commits(monkeypatch)
    body = _ok(second.exchange([(lease_id, clip_output(job.payload))], max_jobs=1))
    assert sent == [True, False]  # the store's pipelined COMMIT, then Django's of the lease
    assert [outcome["status"] for outcome in body["results"]] == [200]
    assert [j["job_id"] for j in body["jobs"]] == [overdue.pk]
    with psycopg.connect(**connection.get_connection_params()) as other:
        assert other.execute(
            "SELECT id, status, lease_owner_id FROM jobs_job ORDER BY id"
        ).fetchall() == [(overdue.pk, "leased", second.id), (job.pk, "validating", second.id)]
        assert other.execute(
            "SELECT node_id, state FROM jobs_lease WHERE job_id = %s ORDER BY leased_at",
            [overdue.pk],
        ).fetchall() == [(first.id, "expired"), (second.id, "active")]


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
def test_inside_a_callers_transaction_the_exchange_does_not_commit_it(
    postgres, register_node, clip_job, monkeypatch
):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    sent = _spy_on_psycopg_commits(monkeypatch)
    _ok(node.exchange([(lease_id, clip_output(job.payload))], max_jobs=1))
    assert sent == []  # the test's transaction is still open
    assert connection.in_atomic_block


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
@pytest.mark.django_db(transaction=True)
def test_a_statement_failing_in_the_last_round_trip_commits_nothing(
    postgres, register_node, clip_job, monkeypatch
):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    clip_job()

    def failing_lease(*args):
        return "SELECT 1 / 0", {}

    with monkeypatch.context() as patch:
        patch.setattr(pg_queue, "_lease_statement", failing_lease)
        with pytest.raises(DataError):
            node.exchange([(lease_id, clip_output(job.payload))], max_jobs=1)
    assert not JobResult.objects.exists()
    assert Lease.objects.get(pk=lease_id).state == Lease.State.ACTIVE
    assert Job.objects.get(pk=job.pk).status == Job.Status.LEASED
    (outcome,) = _ok(node.exchange([(lease_id, clip_output(job.payload))]))["results"]
    assert outcome["status"] == 200


def test_two_taken_back_leases_of_one_job_in_one_batch_store_one_result(register_node, clip_job):
    node = register_node()
    job, first = _leased(node, clip_job)
    _expire_now(job)
    expire_overdue_leases()
    second = node.lease().json()["jobs"][0]["lease_id"]
    _expire_now(job)
    expire_overdue_leases()
    output = clip_output(job.payload)
    body = _ok(node.exchange([(first, output), (second, output)]))
    assert [outcome["status"] for outcome in body["results"]] == [200, 409]
    assert JobResult.objects.filter(job=job).count() == 1


def test_nan_anywhere_in_the_body_is_400(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    body = json.dumps({"results": [{"lease_id": lease_id, "output": clip_output(job.payload)}]})
    response = node.client.post(
        EXCHANGE, body.replace('"model"', '"bad": NaN, "model"'), content_type="application/json"
    )
    assert response.status_code == 400
    assert "NaN" in response.json()["detail"]
    assert not JobResult.objects.exists()


def test_a_nul_character_is_refused_per_item_and_the_rest_is_stored(register_node, clip_job):
    node = register_node()
    job, lease_id = _leased(node, clip_job)
    other, other_lease = _leased(node, clip_job)
    poisoned = clip_output(job.payload)
    poisoned["model"] = "ViT\x00B"
    body = _ok(node.exchange([(lease_id, poisoned), (other_lease, clip_output(other.payload))]))
    first, second = body["results"]
    assert first["status"] == 400 and "NUL" in first["errors"][0]
    assert second["status"] == 200
    assert list(JobResult.objects.values_list("job_id", flat=True)) == [other.pk]


LEASE = "6f1c2d9e-0a4b-4c55-9a0e-1f2a3b4c5d6e"
OTHER_LEASE = "0b7e9a2c-5d4f-4e3a-8b1c-2d3e4f5a6b7c"


@ONE_ROUTE
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"max_jobs": 3, "kinds": ["clip_score"]},
        {"results": [{"lease_id": LEASE, "output": {"a": 1}}]},
        {"results": [{"lease_id": LEASE, "output": {}, "stats": {"elapsed_s": 1, "model": ""}}]},
        {"results": [{"lease_id": LEASE, "output": {}, "stats": {"prompt_tokens": -1}}]},
        {"results": [{"lease_id": LEASE, "output": {}, "stats": {"elapsed_s": None}}]},
        {"results": [{"lease_id": LEASE, "output": {}, "stats": {"unknown": 1}}]},
        {"results": [{"lease_id": LEASE, "output": {}, "stats": []}]},
        {"results": [{"lease_id": "not-a-uuid", "output": {}}]},
        {"results": [{"lease_id": LEASE, "output": []}]},
        {"results": [{"lease_id": LEASE}]},
        {"results": ["x"]},
        {"results": {}},
        {"results": [{"lease_id": LEASE, "output": {}}, {"lease_id": LEASE, "output": {}}]},
        {"results": [{"lease_id": LEASE, "output": {}}, {"lease_id": OTHER_LEASE, "output": {}}]},
        {"results": [{"lease_id": str(uuid.uuid4()), "output": {}} for _ in range(65)]},
        {"max_jobs": 65},
        {"max_jobs": -1},
        {"max_jobs": None},
        {"kinds": "clip_score"},
        {"kinds": [""]},
        {"kinds": ["x" * 65]},
        [],
    ],
)
def test_the_exchange_envelope_parser_agrees_with_the_documented_serializer(body):
    from rest_framework.exceptions import ValidationError

    from alexandria.jobs.serializers import ExchangeRequestSerializer, parse_exchange_request

    serializer = ExchangeRequestSerializer(data=body)
    try:
        parsed = parse_exchange_request(body)
    except ValidationError:
        assert not serializer.is_valid()
    else:
        assert serializer.is_valid(), serializer.errors
        expected = serializer.validated_data
        assert parsed["max_jobs"] == expected["max_jobs"]
        assert parsed.get("kinds") == expected.get("kinds")
        assert [dict(item, stats=dict(item["stats"])) for item in expected["results"]] == [
            dict(item) for item in parsed["results"]
        ]


@ONE_ROUTE
@pytest.mark.parametrize("max_jobs", ["3", 3.0, True])
def test_the_exchange_envelope_parser_wants_a_json_integer_for_max_jobs(max_jobs):
    from rest_framework.exceptions import ValidationError

    from alexandria.jobs.serializers import parse_exchange_request

    with pytest.raises(ValidationError):
        parse_exchange_request({"max_jobs": max_jobs})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
def test_a_connection_the_database_dropped_is_replaced_by_the_next_node_call(
    postgres, register_node, clip_job
):
    """The node lookup stands in for Django's per-request health check, so it must recover
    the same way: a persistent connection killed on the server side costs no failed call."""
    import psycopg

    node = register_node()
    clip_job()
    connection.ensure_connection()
    killed = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [killed])
    connection.health_check_done = False  # as at the start of the next request
    response = node.exchange(max_jobs=1)
    assert response.status_code == 200, response.content
    assert len(response.json()["jobs"]) == 1
    assert connection.connection.info.backend_pid != killed


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
@pytest.mark.parametrize("statement", ["_LOCK_LEASE_JOBS", "_LEASES_WITH_RESULTS"])
def test_a_submit_reads_the_leases_it_names_not_the_node_history(
    postgres, register_node, clip_job, statement
):
    """A node's finished leases pile up for ever. Planned generically, with statistics from
    when every node had a few, a lookup that also used the node's index read every lease
    the node ever held, on each submit."""
    node = register_node()
    job = clip_job()
    (leased,) = _ok(node.exchange(max_jobs=1))["jobs"]
    owner = WorkerNode.objects.get(pk=node.id).owner
    others = WorkerNode.objects.bulk_create(
        WorkerNode(owner=owner, name=f"other-{i}", token_hash=f"{i:064x}", token_prefix="x")
        for i in range(50)
    )
    history = (
        "INSERT INTO jobs_lease (id, job_id, node_id, state, leased_at, expires_at)"
        " SELECT gen_random_uuid(), %s, %s, 'submitted', now(), now()"
        " FROM generate_series(1, %s)"
    )
    sql = getattr(pg_queue, statement).replace("%(leases)s", "$1").replace("%(node)s", "$2")
    with connection.cursor() as cursor:
        for other in others:
            cursor.execute(history, [job.pk, other.pk, 20])
        cursor.execute("ANALYZE jobs_lease")
        cursor.execute(history, [job.pk, node.id, 20_000])
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE submit_lookup(uuid[], bigint) AS {sql}")
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE submit_lookup(%s::uuid[], %s)",
            [[leased["lease_id"]], node.id],
        )
        (plan,) = cursor.fetchone()[0]
        cursor.execute("DEALLOCATE submit_lookup")
    # Only the lease lookups count: how the jobs are found depends on what earlier tests left
    # in jobs_job (once a sequential scan of 14 blocks).
    blocks = sum(
        step["Shared Hit Blocks"] + step["Shared Read Blocks"]
        for step in _plan_nodes(plan["Plan"])
        if step.get("Relation Name") == "jobs_lease"
    )
    assert blocks < 12, json.dumps(plan["Plan"], indent=1)


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
def test_a_store_updates_its_lease_and_job_by_key(postgres, register_node, clip_job):
    """Planned generically, a JSON document is expected to hold 100 rows; for 100 rows the
    store found the leases and jobs to update by scanning both tables whole."""
    node = register_node()
    job = clip_job()
    (leased,) = _ok(node.exchange(max_jobs=1))["jobs"]
    sql = (
        pg_queue._STORE_RESULTS.replace(":count", "1")
        .replace("%(node)s", "$1")
        .replace("%(now)s", "$2")
        .replace("%(rows)s", "$3")
    )
    row = {"job_id": job.pk, "lease_id": leased["lease_id"], "output": {}, "sha": "0", "stats": {}}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_job (kind, kind_version, payload, status, priority, size_hint,"
            " attempts, max_attempts, created_at, updated_at)"
            " SELECT kind, kind_version, payload, 'done', 0, 0, 1, max_attempts, now(), now()"
            " FROM jobs_job, generate_series(1, 5000) WHERE id = %s",
            [job.pk],
        )
        cursor.execute(
            "INSERT INTO jobs_lease (id, job_id, node_id, state, leased_at, expires_at)"
            " SELECT gen_random_uuid(), %s, %s, 'submitted', now(), now()"
            " FROM generate_series(1, 5000)",
            [job.pk, node.id],
        )
        cursor.execute("ANALYZE jobs_job")
        cursor.execute("ANALYZE jobs_lease")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE store(bigint, timestamptz, text) AS {sql}")
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE store(%s, now(), %s)",
            [node.id, json.dumps([row])],
        )
        (plan,) = cursor.fetchone()[0]
        cursor.execute("DEALLOCATE store")
    scans = {
        (step["Relation Name"], step["Node Type"])
        for step in _plan_nodes(plan["Plan"])
        if step["Node Type"].endswith("Scan") and "Relation Name" in step
    }
    assert scans == {("jobs_job", "Index Scan"), ("jobs_lease", "Index Scan")}, scans


@ONE_ROUTE
@pytest.mark.parametrize("queue_path", ["pg_queue"], indirect=True)
def test_a_lease_reads_overdue_leases_not_all_the_work_in_flight(postgres, register_node, clip_job):
    """Before taking queued jobs, a lease checks for overdue leases of its kinds. Planned
    generically as an EXISTS, that check read every leased job (10,000 here, all the work in
    flight), on every lease call."""
    node = register_node()
    owner_id = WorkerNode.objects.get(pk=node.id).owner_id
    job = clip_job()
    sql = pg_queue._LEASE_QUEUED.replace(":limit", "1")
    for number, name in enumerate(
        ("now", "kinds", "node", "owner", "flagged", "min_seconds", "max_seconds"), start=1
    ):
        sql = sql.replace(f"%({name})s", f"${number}")
    sql = sql.replace("%(chars_per_second)s", "$8")
    sql = sql.replace("%(avoid_after)s", "$9").replace("%(avoid_seconds)s", "$10")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_job (kind, kind_version, payload, status, priority, size_hint,"
            " attempts, max_attempts, created_at, updated_at, lease_owner_id, lease_expires_at)"
            " SELECT kind, kind_version, payload, 'leased', 0, 0, 1, max_attempts, now(), now(),"
            " %s, now() + interval '1 hour'"
            " FROM jobs_job, generate_series(1, 10000) WHERE id = %s",
            [node.id, job.pk],
        )
        cursor.execute("ANALYZE jobs_job")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(
            "PREPARE lease(timestamptz, text[], bigint, bigint, boolean, integer, integer,"
            f" integer, integer, integer) AS {sql}"
        )
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON)"
            " EXECUTE lease(now(), %s, %s, %s, false, 60, 3600, 100, 3, 1800)",
            [[job.kind], node.id, owner_id],
        )
        (plan,) = cursor.fetchone()[0]
        cursor.execute("DEALLOCATE lease")
    job_scans = [
        step
        for step in _plan_nodes(plan["Plan"])
        if step.get("Relation Name") == "jobs_job" and step["Node Type"].endswith("Scan")
    ]
    assert "Seq Scan" not in {step["Node Type"] for step in job_scans}, job_scans
    assert sum(step.get("Rows Removed by Filter", 0) for step in job_scans) < 100, job_scans
    job.refresh_from_db()
    assert job.status == Job.Status.LEASED  # the check let the queued job through
