"""NodeRuntime in-process against the fake backend and the fake LLM server."""

import asyncio
import threading

from tests.support.fake_openai import FakeReply
from tests.worker.conftest import TOKEN
from tests.worker.echo_kind import ECHO_SUMMARY, valid_reply
from worker.api import BackendClient, RetryPolicy
from worker.kinds import JobKind
from worker.llm import LLMRunner
from worker.runtime import NodeRuntime, RuntimeConfig

FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.05)


def run_node(backend, llm_server, *, until=None, timeout=15.0, kinds=(ECHO_SUMMARY,), **config):
    """Run a node until ``until()`` holds (then shut it down) or, with once=True, to the end."""
    config = {"poll_interval": 0.05, "grace_period": 0.2, **config}

    async def go():
        backend_client = BackendClient(backend.url, TOKEN, retry=FAST_RETRY)
        llm = LLMRunner(llm_server.base_url, model="m", max_retries=0)
        runtime = NodeRuntime(backend_client, {"llm": llm}, kinds, RuntimeConfig(**config))
        node = asyncio.create_task(runtime.run())
        if until is not None:
            while not until():
                await asyncio.sleep(0.02)
            runtime.request_shutdown()
        await asyncio.wait_for(node, timeout)
        await backend_client.aclose()
        await llm.aclose()
        return runtime

    return asyncio.run(go())


def when_llm_is_called(llm_server, action):
    """Do ``action`` from another thread as soon as the first chat request arrives."""

    def watch():
        llm_server.wait_for_requests(1)
        action()

    threading.Thread(target=watch, daemon=True).start()


def test_runs_every_job_and_submits_results(fake_backend, fake_openai):
    fake_openai.responder = valid_reply
    for n in range(10):
        fake_backend.add_job("echo_summary", {"text": " ".join(["w"] * n)})
    runtime = run_node(
        fake_backend,
        fake_openai,
        concurrency=3,
        batch=2,
        until=lambda: all(job.status == "done" for job in fake_backend.jobs.values()),
    )
    assert runtime.stats.done == 10
    assert runtime.stats.completion_tokens > 0
    job = fake_backend.jobs[1]
    assert job.stats["model"] == "m" and job.stats["completion_tokens"] > 0
    assert all(len(call.body) == 2 for call in fake_backend.calls("jobs/lease"))
    assert max(call.body["max_jobs"] for call in fake_backend.calls("jobs/lease")) == 2


def test_concurrency_bounds_the_jobs_in_flight(fake_backend, fake_openai):
    in_flight = []
    peak = []
    lock = threading.Lock()

    def slow_reply(request):
        with lock:
            in_flight.append(1)
            peak.append(len(in_flight))
        fake_openai.stopping.wait(0.1)
        with lock:
            in_flight.pop()
        return valid_reply(request)

    fake_openai.responder = slow_reply
    for _ in range(12):
        fake_backend.add_job("echo_summary", {"text": "a"})
    run_node(
        fake_backend,
        fake_openai,
        concurrency=4,
        batch=4,
        until=lambda: all(job.status == "done" for job in fake_backend.jobs.values()),
    )
    assert max(peak) == 4


def test_once_runs_a_single_batch(fake_backend, fake_openai):
    fake_openai.responder = valid_reply
    for _ in range(5):
        fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True, concurrency=2, batch=2)
    assert runtime.stats.done == 2
    assert [job.status for job in fake_backend.jobs.values()].count("queued") == 3
    assert len(fake_backend.calls("jobs/lease")) == 1


def test_heartbeats_keep_a_long_job_alive(fake_backend, fake_openai):
    fake_backend.lease_seconds = 1
    fake_openai.queue(FakeReply('{"summary": "s", "words": 1}', delay=1.6))
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert runtime.stats.done == 1
    assert len(fake_backend.calls("heartbeat")) >= 3


def test_cancelled_job_is_dropped_without_submitting(fake_backend, fake_openai):
    fake_backend.lease_seconds = 1
    fake_openai.latency = 5
    fake_openai.responder = valid_reply
    job_id = fake_backend.add_job("echo_summary", {"text": "a"})

    when_llm_is_called(fake_openai, lambda: fake_backend.cancel(job_id))
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert runtime.stats.dropped == 1
    assert fake_backend.calls("submit") == [] and fake_backend.calls("fail") == []


def test_lost_lease_stops_the_job(fake_backend, fake_openai):
    fake_backend.lease_seconds = 1
    fake_openai.latency = 5
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})

    when_llm_is_called(fake_openai, lambda: fake_backend.expire(fake_backend.jobs[1].lease_id))
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert runtime.stats.dropped == 1
    assert fake_backend.calls("submit") == []


def test_shutdown_releases_unfinished_jobs_after_the_grace_period(fake_backend, fake_openai):
    fake_openai.latency = 30
    fake_openai.responder = valid_reply
    for _ in range(2):
        fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(
        fake_backend, fake_openai, concurrency=2, until=lambda: len(fake_openai.requests) == 2
    )
    assert runtime.stats.released == 2
    assert [call.body["release"] for call in fake_backend.calls("fail")] == [True, True]
    assert all(job.status == "queued" and job.attempts == 0 for job in fake_backend.jobs.values())
    assert runtime.active == {}


def test_jobs_finishing_within_the_grace_period_are_submitted(fake_backend, fake_openai):
    fake_openai.latency = 0.5
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(
        fake_backend, fake_openai, grace_period=5, until=lambda: len(fake_openai.requests) == 1
    )
    assert runtime.stats.done == 1 and runtime.stats.released == 0
    assert fake_backend.jobs[1].status == "done"


def test_bad_payload_and_bad_output_fail_the_job(fake_backend, fake_openai):
    fake_openai.responder = lambda request: "still not json"
    fake_backend.add_job("echo_summary", {"wrong": "field"})
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert runtime.stats.failed == 2
    errors = {call.body["error"].split(":")[0] for call in fake_backend.calls("fail")}
    assert errors == {
        "payload does not match the input schema",
        "model output invalid after one repair",
    }
    assert all(call.body["release"] is False for call in fake_backend.calls("fail"))
    assert [job.attempts for job in fake_backend.jobs.values()] == [1, 1]


def test_llm_outage_gives_the_job_back(fake_backend, fake_openai):
    fake_openai.queue(FakeReply(status=502, error="bad gateway"))
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert runtime.stats.released == 1
    assert fake_backend.calls("fail")[0].body["release"] is True


def test_kind_version_mismatch_is_released_and_the_kind_no_longer_leased(fake_backend, fake_openai):
    fake_backend.add_job("echo_summary", {"text": "a"}, kind_version="2")
    runtime = run_node(
        fake_backend, fake_openai, until=lambda: len(fake_backend.calls("fail")) == 1
    )
    (fail,) = fake_backend.calls("fail")
    assert fail.body["release"] is True and "update alexandria-worker" in fail.body["error"]
    assert runtime.kinds == {}
    assert fake_openai.requests == []


def test_a_crashing_kind_fails_its_job_and_the_node_goes_on(fake_backend, fake_openai):
    def broken_prompt(payload):
        return payload["missing"]

    crashy = JobKind("crashy", "1", {"type": "object"}, {"type": "object"},
                     build_messages=broken_prompt)  # fmt: skip
    fake_openai.responder = valid_reply
    fake_backend.add_job("crashy", {})
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True, kinds=(crashy, ECHO_SUMMARY))
    (fail,) = fake_backend.calls("fail")
    assert fail.body == {"error": "worker error: KeyError: 'missing'", "release": False}
    assert (runtime.stats.failed, runtime.stats.done) == (1, 1)


def test_prefetched_jobs_wait_for_a_slot_with_their_leases_kept_alive(fake_backend, fake_openai):
    fake_backend.lease_seconds = 1
    fake_openai.latency = 1.2
    fake_openai.responder = valid_reply
    for _ in range(4):
        fake_backend.add_job("echo_summary", {"text": "a"})
    leased_early = []

    def watch():
        fake_openai.wait_for_requests(2)
        fake_backend.wait_until(lambda: len(fake_backend.leases) == 4, timeout=1)
        leased_early.append(sum(job.status == "leased" for job in fake_backend.jobs.values()))
        leased_early.append(len(fake_openai.requests))

    threading.Thread(target=watch, daemon=True).start()
    runtime = run_node(
        fake_backend,
        fake_openai,
        concurrency=2,
        batch=2,
        prefetch=2,
        until=lambda: all(job.status == "done" for job in fake_backend.jobs.values()),
    )
    assert leased_early == [4, 2]  # four leased, two running
    assert runtime.stats.done == 4 and runtime.stats.dropped == 0
    # The waiting jobs were heartbeated: each lease saw at least one heartbeat.
    beaten = {call.path.split("/")[4] for call in fake_backend.calls("heartbeat")}
    assert beaten == set(fake_backend.leases)
