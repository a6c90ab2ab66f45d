import asyncio
from datetime import UTC, datetime

import pytest

from tests.support.fake_backend import FakeBackend
from tests.worker.conftest import TOKEN
from worker.api import (
    AuthRefusedError,
    BackendClient,
    BackendError,
    BackendUnavailableError,
    FinishedResult,
    LeaseLostError,
    OutputTooLargeError,
    ResultOutcome,
    RetryPolicy,
    encode_json,
    exchange_request,
    retry_after_seconds,
)
from worker.local_llm import free_port

VALID_OUTPUT = {"summary": "short", "words": 2}
STATS = {"elapsed_s": 0.1, "prompt_tokens": 3, "completion_tokens": 4, "model": "m"}


class RecordedSleeps(list):
    """Stands in for asyncio.sleep: remembers the delays instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def call(backend: FakeBackend, operation, token=TOKEN, sleeps=None, retry=None):
    async def run():
        async with BackendClient(
            backend.url, token, sleep=RecordedSleeps() if sleeps is None else sleeps, retry=retry
        ) as client:
            return await operation(client)

    return asyncio.run(run())


def test_lease_returns_jobs_of_the_asked_kinds(fake_backend):
    fake_backend.add_job("clip_score", {"pairs": []})
    echo_id = fake_backend.add_job("echo_summary", {"text": "a b"})
    leases = call(fake_backend, lambda c: c.lease(4, ["echo_summary"]))
    assert [(lease.job_id, lease.kind, lease.payload) for lease in leases] == [
        (echo_id, "echo_summary", {"text": "a b"})
    ]
    assert leases[0].lease_seconds == 3
    assert fake_backend.calls("jobs/lease")[0].body == {"max_jobs": 4, "kinds": ["echo_summary"]}
    assert fake_backend.calls("jobs/lease")[0].headers["Authorization"] == f"Node {TOKEN}"
    assert call(fake_backend, lambda c: c.lease(4, ["echo_summary"])) == []


def finished(lease, output=VALID_OUTPUT):
    return FinishedResult(lease.lease_id, output, STATS)


def test_exchange_hands_in_results_and_leases_in_one_request(fake_backend):
    for text in ("a b", "c d", "e f"):
        fake_backend.add_job("echo_summary", {"text": text})

    async def exchange_twice(client):
        first = await client.exchange([], 2, ["echo_summary"])
        second = await client.exchange([finished(lease) for lease in first.leases], 2)
        return first, second

    first, second = call(fake_backend, exchange_twice)
    assert first.outcomes == () and [lease.job_id for lease in first.leases] == [1, 2]
    assert [lease.job_id for lease in second.leases] == [3]
    assert [(o.status, o.result_id, o.result_status) for o in second.outcomes] == [
        (200, 1, "accepted"),
        (200, 2, "accepted"),
    ]
    assert second.outcomes[0] == ResultOutcome(
        first.leases[0].lease_id, 200, 1, "accepted", "", None
    )
    assert fake_backend.jobs[1].output == VALID_OUTPUT and fake_backend.jobs[1].stats == STATS
    bodies = [request.body for request in fake_backend.calls("jobs/exchange")]
    assert bodies[0] == {"results": [], "max_jobs": 2, "kinds": ["echo_summary"]}
    assert bodies[1]["results"][0] == {
        "lease_id": first.leases[0].lease_id,
        "output": VALID_OUTPUT,
        "stats": STATS,
    }
    assert "kinds" not in bodies[1]


def test_exchange_repeats_are_answered_alike_and_heartbeat_after_it_is_refused(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a b"})

    async def hand_in_twice(client):
        (lease,) = (await client.exchange([], 1)).leases
        beat = await client.heartbeat(lease.lease_id)
        first = await client.exchange([finished(lease)], 0)
        second = await client.exchange([finished(lease)], 0)
        different = await client.exchange([finished(lease, {"summary": "y", "words": 1})], 0)
        with pytest.raises(LeaseLostError):
            await client.heartbeat(lease.lease_id)
        return beat, first, second, different

    beat, first, second, different = call(fake_backend, hand_in_twice)
    assert beat["cancelled"] is False
    assert first == second and first.outcomes[0].status == 200
    assert different.outcomes[0].status == 409
    assert fake_backend.jobs[1].output == VALID_OUTPUT


def test_expired_lease_is_lost(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a"})

    async def lose_the_lease(client):
        (lease,) = await client.lease(1)
        fake_backend.expire(lease.lease_id)
        (again,) = await client.lease(1)
        assert again.job_id == lease.job_id and again.lease_id != lease.lease_id
        for attempt in (
            client.heartbeat(lease.lease_id),
            client.fail(lease.lease_id, "x", release=True),
        ):
            with pytest.raises(LeaseLostError):
                await attempt
        return await client.exchange([finished(lease), finished(again)], 0)

    reply = call(fake_backend, lose_the_lease)
    assert [outcome.status for outcome in reply.outcomes] == [409, 200]
    assert reply.outcomes[0].detail == "lease is no longer yours"
    assert reply.outcomes[0].result_id is None


def test_each_result_of_an_exchange_is_judged_on_its_own(fake_backend):
    for _ in range(3):
        fake_backend.add_job("echo_summary", {"text": "a"})
    fake_backend.max_output_bytes = 100

    async def hand_in_mixed(client):
        big, malformed, good = (await client.exchange([], 3)).leases
        results = [
            finished(big, {"summary": "x" * 200, "words": 1}),
            finished(malformed, {"summary": "x"}),
            finished(good),
            FinishedResult("not-a-lease", VALID_OUTPUT, STATS),
        ]
        return await client.exchange(results, 0)

    too_large, rejected, accepted, unknown = call(fake_backend, hand_in_mixed).outcomes
    assert (too_large.status, too_large.detail) == (413, "output too large")
    assert (rejected.status, rejected.detail) == (400, "output does not match the schema")
    assert rejected.errors == ["$: 'words' is a required property"]
    assert rejected.reason == f"output does not match the schema: {rejected.errors}"
    assert accepted.status == 200
    assert unknown.status == 404


def test_an_exchange_over_the_size_limit_is_refused_whole(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a"})
    fake_backend.exchange_max_bytes = 1000

    async def hand_in_too_much(client):
        (lease,) = (await client.exchange([], 1)).leases
        await client.exchange([finished(lease, {"summary": "x" * 2000, "words": 1})], 0)

    with pytest.raises(OutputTooLargeError, match="exchange request too large"):
        call(fake_backend, hand_in_too_much)


def test_exchange_requests_are_sized_as_sent(fake_backend):
    result = FinishedResult("id", {"summary": "é" * 10, "words": 1}, STATS)
    call(fake_backend, lambda c: c.exchange([result], 0))
    (request,) = fake_backend.calls("jobs/exchange")
    sent = int(request.headers["Content-Length"])
    assert sent == len(encode_json(exchange_request([result], 0)))


def test_fail_and_release(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a"})

    async def fail_then_release(client):
        (lease,) = await client.lease(1)
        failed = await client.fail(lease.lease_id, "model output invalid", release=False)
        (lease,) = await client.lease(1)
        released = await client.fail(lease.lease_id, "shutting down", release=True)
        return failed, released

    failed, released = call(fake_backend, fail_then_release)
    assert failed == {"job_status": "queued", "attempts": 1}
    assert released == {"job_status": "queued", "attempts": 1}
    assert fake_backend.jobs[1].errors == ["model output invalid", "shutting down"]


def test_bad_token_is_refused_without_retrying(fake_backend):
    sleeps = RecordedSleeps()
    with pytest.raises(AuthRefusedError, match="invalid or revoked"):
        call(fake_backend, lambda c: c.me(), token="stolen", sleeps=sleeps)
    assert sleeps == []
    fake_backend.inject("POST", "/api/v1/jobs/lease", 403, body={"detail": "node banned"})
    with pytest.raises(AuthRefusedError, match="node banned"):
        call(fake_backend, lambda c: c.lease(1))


def test_server_errors_are_retried_with_growing_bounded_delays(fake_backend):
    fake_backend.inject("GET", "/api/v1/nodes/me", 503, times=4)
    sleeps = RecordedSleeps()
    retry = RetryPolicy(attempts=6, base=1.0, cap=3.0)
    me = call(fake_backend, lambda c: c.me(), sleeps=sleeps, retry=retry)
    assert me["name"] == "node-node"
    assert len(sleeps) == 4
    ceilings = [1.0, 2.0, 3.0, 3.0]
    for delay, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_retries_are_bounded(fake_backend):
    fake_backend.inject("GET", "/api/v1/nodes/me", 500, times=10)
    sleeps = RecordedSleeps()
    with pytest.raises(BackendUnavailableError, match="HTTP 500 after 3 tries"):
        call(fake_backend, lambda c: c.me(), sleeps=sleeps, retry=RetryPolicy(attempts=3))
    assert len(sleeps) == 2


def test_network_errors_are_retried_then_reported():
    sleeps = RecordedSleeps()

    async def unreachable():
        url = f"http://127.0.0.1:{free_port()}"
        async with BackendClient(url, TOKEN, sleep=sleeps, retry=RetryPolicy(attempts=3)) as c:
            await c.me()

    with pytest.raises(BackendUnavailableError, match="ConnectError"):
        asyncio.run(unreachable())
    assert len(sleeps) == 2


def test_429_waits_as_long_as_retry_after_says(fake_backend):
    fake_backend.inject("POST", "/api/v1/jobs/lease", 429, times=2, headers={"Retry-After": "7"})
    sleeps = RecordedSleeps()
    assert call(fake_backend, lambda c: c.lease(1), sleeps=sleeps) == []
    assert sleeps == [7.0, 7.0]


def test_other_client_errors_are_not_retried(fake_backend):
    sleeps = RecordedSleeps()
    with pytest.raises(BackendError, match="HTTP 404"):
        call(fake_backend, lambda c: c.heartbeat("no-such-lease"), sleeps=sleeps)
    assert sleeps == []


def test_retry_after_parses_seconds_and_http_dates():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
