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
    LeaseLostError,
    OutputTooLargeError,
    RetryPolicy,
    SubmissionRejectedError,
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


def test_submit_is_idempotent_and_heartbeat_after_it_is_refused(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a b"})

    async def lease_submit_twice(client):
        (lease,) = await client.lease(1)
        beat = await client.heartbeat(lease.lease_id)
        first = await client.submit(lease.lease_id, VALID_OUTPUT, STATS)
        second = await client.submit(lease.lease_id, VALID_OUTPUT, STATS)
        with pytest.raises(LeaseLostError):
            await client.heartbeat(lease.lease_id)
        return beat, first, second

    beat, first, second = call(fake_backend, lease_submit_twice)
    assert beat["cancelled"] is False
    assert first == second == {"result_id": 1, "status": "accepted"}
    assert fake_backend.jobs[1].output == VALID_OUTPUT
    assert fake_backend.jobs[1].stats == STATS


def test_expired_lease_is_lost(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a"})

    async def lose_the_lease(client):
        (lease,) = await client.lease(1)
        fake_backend.expire(lease.lease_id)
        (again,) = await client.lease(1)
        assert again.job_id == lease.job_id and again.lease_id != lease.lease_id
        for attempt in (
            client.heartbeat(lease.lease_id),
            client.submit(lease.lease_id, VALID_OUTPUT, STATS),
            client.fail(lease.lease_id, "x", release=True),
        ):
            with pytest.raises(LeaseLostError):
                await attempt

    call(fake_backend, lose_the_lease)


def test_oversized_and_malformed_outputs_are_told_apart(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a"})
    fake_backend.max_output_bytes = 100

    async def submit_bad_outputs(client):
        (lease,) = await client.lease(1)
        with pytest.raises(OutputTooLargeError):
            await client.submit(lease.lease_id, {"summary": "x" * 200, "words": 1}, STATS)
        with pytest.raises(SubmissionRejectedError) as rejected:
            await client.submit(lease.lease_id, {"summary": "x"}, STATS)
        return rejected.value

    rejected = call(fake_backend, submit_bad_outputs)
    assert rejected.detail == "output does not match the schema"
    assert rejected.errors == ["$: 'words' is a required property"]


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
