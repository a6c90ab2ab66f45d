"""NodeRuntime in-process against the fake backend and the fake LLM server."""

import asyncio
import dataclasses
import json
import threading
from collections import defaultdict

import httpx
import pytest

from jobkinds import JobKind
from tests.support.fake_openai import FakeReply
from tests.worker.conftest import TOKEN
from tests.worker.echo_kind import ECHO_SUMMARY, valid_reply
from worker import runtime as runtime_module
from worker.api import AuthRefusedError, BackendClient, RetryPolicy
from worker.llm import LLMRunner
from worker.results import RunResult
from worker.runtime import NodeRuntime, RuntimeConfig

FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.05)


def run_node(
    backend,
    llm_server=None,
    *,
    until=None,
    script=None,
    runner=None,
    transport=None,
    timeout=15.0,
    kinds=(ECHO_SUMMARY,),
    **config,
):
    """Run a node until ``until()`` holds (then shut it down) or, with once=True, to the end.

    ``script(runtime)`` runs beside the node first; ``runner`` replaces the LLM runner.
    """
    config = {"poll_interval": 0.05, "grace_period": 0.2, **config}

    async def go():
        backend_client = BackendClient(backend.url, TOKEN, retry=FAST_RETRY, transport=transport)
        job_runner = runner or LLMRunner(llm_server.base_url, model="m", max_retries=0)
        runtime = NodeRuntime(backend_client, {"llm": job_runner}, kinds, RuntimeConfig(**config))
        node = asyncio.create_task(runtime.run())
        if script is not None:
            await asyncio.wait_for(script(runtime), timeout)
        if until is not None:
            while not until():
                await asyncio.sleep(0.02)
            runtime.request_shutdown()
        await asyncio.wait_for(node, timeout)
        await backend_client.aclose()
        await job_runner.aclose()
        return runtime

    return asyncio.run(go())


async def eventually(condition):
    while not condition():
        await asyncio.sleep(0.01)


class GatedRunner:
    """An echo_summary runner whose jobs finish when the test opens their gate (by text)."""

    def __init__(self, summary="ok"):
        self.summary = summary
        self.gates = defaultdict(asyncio.Event)

    def open(self, *texts):
        for text in texts:
            self.gates[text].set()

    async def run(self, kind, payload, contract):
        await self.gates[payload["text"]].wait()
        output = {"summary": self.summary, "words": 1}
        return RunResult(output, model="gated", prompt_tokens=2, completion_tokens=3)

    async def aclose(self):
        pass


def lease_of(backend, job_id):
    return backend.jobs[job_id].lease_id


def all_handed_in(backend):
    return [lease_id for lease_ids in backend.handed_in() for lease_id in lease_ids]


def exchanges(backend):
    """(results carried, max_jobs) of every exchange so far."""
    return [
        (len(call.body["results"]), call.body["max_jobs"])
        for call in backend.calls("jobs/exchange")
    ]


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
    calls = fake_backend.calls("jobs/exchange")
    assert all(call.body["kinds"] == ["echo_summary"] for call in calls)
    assert max(call.body["max_jobs"] for call in calls) == 2
    assert sorted(all_handed_in(fake_backend)) == sorted(fake_backend.leases)
    assert fake_backend.calls("jobs/lease") == fake_backend.calls("submit") == []


def test_a_result_goes_in_with_the_next_lease_request(fake_backend, fake_openai):
    fake_openai.responder = valid_reply
    for _ in range(3):
        fake_backend.add_job("echo_summary", {"text": "a"})
    run_node(
        fake_backend,
        fake_openai,
        concurrency=1,
        batch=1,
        until=lambda: all(job.status == "done" for job in fake_backend.jobs.values()),
    )
    first, second, third = fake_backend.leases
    # One round trip per job: each result rides on the request that leases the next job.
    assert fake_backend.handed_in()[:4] == [[], [first], [second], [third]]
    assert exchanges(fake_backend)[:4] == [(0, 1), (1, 1), (1, 1), (1, 1)]
    assert [fake_backend.jobs[n].lease_id for n in (1, 2, 3)] == [first, second, third]


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
    asked_for = [max_jobs for _, max_jobs in exchanges(fake_backend)]
    assert asked_for[0] == 2 and set(asked_for[1:]) == {0}
    assert sorted(all_handed_in(fake_backend)) == sorted(fake_backend.leases)


def test_once_hands_in_each_result_as_soon_as_it_is_ready(fake_backend):
    runner = GatedRunner()
    for text in ("quick", "slow"):
        fake_backend.add_job("echo_summary", {"text": text})

    async def finish_one_then_the_other(runtime):
        await eventually(lambda: len(fake_backend.leases) == 2)
        runner.open("quick")
        # Handed in while the other job still runs: nothing else to wait for when idle.
        await eventually(lambda: fake_backend.jobs[1].status == "done")
        runner.open("slow")

    runtime = run_node(
        fake_backend, runner=runner, script=finish_one_then_the_other, once=True, concurrency=2
    )
    assert runtime.stats.done == 2
    assert fake_backend.handed_in() == [
        [],
        [lease_of(fake_backend, 1)],
        [lease_of(fake_backend, 2)],
    ]
    assert exchanges(fake_backend) == [(0, 2), (1, 0), (1, 0)]


def test_results_go_out_when_no_slot_is_free(fake_backend, monkeypatch):
    monkeypatch.setattr(runtime_module, "EXCHANGE_MAX_RESULTS", 1)
    runner = GatedRunner()
    for text in "abcd":
        fake_backend.add_job("echo_summary", {"text": text})

    async def finish_two_then_two_more(runtime):
        await eventually(lambda: len(fake_backend.leases) == 2)
        runner.open("a", "b")
        # One result per request: the first brings in two jobs, filling both slots; the
        # second result still goes out at once instead of waiting for a slot.
        await eventually(lambda: fake_backend.jobs[2].status == "done")
        assert [job.status for job in fake_backend.jobs.values()] == ["done"] * 2 + ["leased"] * 2
        runner.open("c", "d")

    runtime = run_node(
        fake_backend,
        runner=runner,
        script=finish_two_then_two_more,
        concurrency=2,
        batch=2,
        prefetch=0,
        until=lambda: all(job.status == "done" for job in fake_backend.jobs.values()),
    )
    assert runtime.stats.done == 4
    assert exchanges(fake_backend)[:3] == [(0, 2), (1, 2), (1, 0)]


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
    assert fake_backend.handed_in() == [[]] and fake_backend.calls("fail") == []


def test_lost_lease_stops_the_job(fake_backend, fake_openai):
    fake_backend.lease_seconds = 1
    fake_openai.latency = 5
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})

    when_llm_is_called(fake_openai, lambda: fake_backend.expire(fake_backend.jobs[1].lease_id))
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert runtime.stats.dropped == 1
    assert fake_backend.handed_in() == [[]]


def test_a_result_whose_lease_was_lost_meanwhile_is_dropped(fake_backend, fake_openai):
    fake_openai.latency = 0.3  # done before the first heartbeat (after 1 s) could notice
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})

    when_llm_is_called(fake_openai, lambda: fake_backend.expire(fake_backend.jobs[1].lease_id))
    runtime = run_node(fake_backend, fake_openai, once=True)
    assert (runtime.stats.dropped, runtime.stats.done, runtime.stats.failed) == (1, 0, 0)
    assert fake_backend.handed_in() == [[], [lease_of(fake_backend, 1)]]
    assert fake_backend.calls("fail") == [] and runtime.active == {}


LAX_ECHO_SUMMARY = dataclasses.replace(ECHO_SUMMARY, output_schema={"type": "object"})


@pytest.mark.parametrize(
    ("node_kind", "reply", "max_output_bytes", "reason"),
    [
        (LAX_ECHO_SUMMARY, '{"summary": "no word count"}', 1000, "output does not match"),
        (ECHO_SUMMARY, '{"summary": "ok", "words": 1}', 10, "output too large"),
    ],
    ids=["400-schema", "413-size"],
)
def test_a_result_the_backend_refuses_fails_the_job(
    fake_backend, fake_openai, node_kind, reply, max_output_bytes, reason
):
    fake_openai.responder = lambda request: reply
    fake_backend.max_output_bytes = max_output_bytes
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True, kinds=(node_kind,))
    assert (runtime.stats.failed, runtime.stats.done) == (1, 0)
    (fail,) = fake_backend.calls("fail")
    assert fail.body["release"] is False
    assert fail.body["error"].startswith(f"backend refused the output: {reason}")
    assert fake_backend.jobs[1].attempts == 1
    assert runtime.active == {}


class LosingTransport(httpx.AsyncBaseTransport):
    """Delivers every request but loses the answer to the first ``times`` hand-ins."""

    def __init__(self, times):
        self.inner = httpx.AsyncHTTPTransport()
        self.times = times

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        carries_results = request.url.path.endswith("/jobs/exchange") and bool(
            json.loads(request.content)["results"]
        )
        if carries_results and self.times > 0:
            self.times -= 1
            await response.aclose()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self):
        await self.inner.aclose()


@pytest.mark.parametrize("lost", [1, 5], ids=["retried-by-the-call", "kept-in-the-outbox"])
def test_a_lost_answer_to_a_hand_in_does_not_lose_the_result(fake_backend, fake_openai, lost):
    # FAST_RETRY makes three tries per call: five losses outlast one call, not the outbox.
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, fake_openai, once=True, transport=LosingTransport(lost))
    assert (runtime.stats.done, runtime.stats.failed, runtime.stats.dropped) == (1, 0, 0)
    lease_id = lease_of(fake_backend, 1)
    # The backend took the first; every repeat got the same answer.
    assert fake_backend.handed_in() == [[]] + [[lease_id]] * (lost + 1)
    assert fake_backend.jobs[1].status == "done" and fake_backend.calls("fail") == []


def test_a_refused_token_on_a_hand_in_stops_the_node(fake_backend):
    runner = GatedRunner()
    fake_backend.add_job("echo_summary", {"text": "a"})

    async def revoke_then_finish(runtime):
        await eventually(lambda: len(fake_backend.leases) == 1)
        fake_backend.revoke(TOKEN)
        runner.open("a")

    with pytest.raises(AuthRefusedError):  # one slot, so the hand-in is the next request
        run_node(fake_backend, runner=runner, script=revoke_then_finish, concurrency=1, batch=1)
    assert fake_backend.handed_in()[-1] == [lease_of(fake_backend, 1)]
    assert fake_backend.calls("fail") == []  # a refused node gives nothing back


def test_exchanges_stay_within_the_size_limit(fake_backend, monkeypatch):
    monkeypatch.setattr(runtime_module, "EXCHANGE_MAX_BYTES", 2000)
    fake_backend.exchange_max_bytes = 2000
    runner = GatedRunner(summary="x" * 600)
    for text in "abcd":
        fake_backend.add_job("echo_summary", {"text": text})

    async def finish_together(runtime):
        await eventually(lambda: len(fake_backend.leases) == 4)
        runner.open(*"abcd")

    runtime = run_node(
        fake_backend, runner=runner, script=finish_together, once=True, concurrency=4
    )
    assert runtime.stats.done == 4
    assert [len(lease_ids) for lease_ids in fake_backend.handed_in()] == [0, 2, 2]
    assert all(
        int(call.headers["Content-Length"]) <= 2000 for call in fake_backend.calls("exchange")
    )


def test_an_exchange_carries_at_most_64_results(fake_backend):
    runner = GatedRunner()
    for n in range(70):
        fake_backend.add_job("echo_summary", {"text": str(n)})

    async def finish_all_together(runtime):
        await eventually(lambda: len(fake_backend.leases) == 70)
        runner.open(*(str(n) for n in range(70)))

    runtime = run_node(
        fake_backend,
        runner=runner,
        script=finish_all_together,
        concurrency=70,
        batch=64,
        prefetch=0,
        until=lambda: all(job.status == "done" for job in fake_backend.jobs.values()),
    )
    assert runtime.stats.done == 70
    carried = [len(lease_ids) for lease_ids in fake_backend.handed_in() if lease_ids]
    assert carried == [64, 6]


def test_a_result_too_large_for_any_exchange_fails_the_job(fake_backend, monkeypatch):
    monkeypatch.setattr(runtime_module, "EXCHANGE_MAX_BYTES", 2000)
    runner = GatedRunner(summary="x" * 3000)
    runner.open("a")
    fake_backend.add_job("echo_summary", {"text": "a"})
    runtime = run_node(fake_backend, runner=runner, once=True)
    assert runtime.stats.failed == 1
    (fail,) = fake_backend.calls("fail")
    assert "more than an exchange can carry" in fail.body["error"]
    assert fail.body["release"] is False
    assert fake_backend.handed_in() == [[]]


def test_results_refused_together_are_handed_in_one_by_one(fake_backend):
    fake_backend.exchange_max_bytes = 1000  # less than the node expects: 413 for two results
    runner = GatedRunner(summary="x" * 400)
    for text in "ab":
        fake_backend.add_job("echo_summary", {"text": text})

    async def finish_together(runtime):
        await eventually(lambda: len(fake_backend.leases) == 2)
        runner.open("a", "b")

    runtime = run_node(
        fake_backend, runner=runner, script=finish_together, once=True, concurrency=2
    )
    assert runtime.stats.done == 2 and runtime.stats.failed == 0
    first, second = lease_of(fake_backend, 1), lease_of(fake_backend, 2)
    assert fake_backend.handed_in() == [[], [first, second], [first], [second]]


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
    assert all_handed_in(fake_backend) == []


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
