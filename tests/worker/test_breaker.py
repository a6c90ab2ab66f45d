"""The node's circuit breaker: while its model is unreachable it stops leasing, hands back
what it holds once, probes the model with exponential back-off and says it is paused."""

import asyncio
import itertools
import time

from tests.support.fake_openai import FakeOpenAIServer, Response
from tests.worker.conftest import TOKEN
from tests.worker.echo_kind import ECHO_SUMMARY, valid_reply
from worker.api import BackendClient, RetryPolicy
from worker.llm import LLMRunner
from worker.runtime import NodeRuntime, RuntimeConfig


class SwitchableModel(FakeOpenAIServer):
    """Answers 503 to everything (models included) while ``down``; records probe times."""

    def __init__(self):
        super().__init__(valid_reply)
        self.down = True
        self.probes: list[float] = []

    def handle(self, request):
        if request.method == "GET":
            self.probes.append(time.monotonic())
        if self.down:
            return Response(503, {"error": {"message": "model not loaded"}})
        return super().handle(request)


def test_unreachable_model_pauses_leasing_until_a_probe_succeeds(fake_backend):
    for text in ("a", "b", "c"):
        fake_backend.add_job("echo_summary", {"text": text})
    config = RuntimeConfig(
        concurrency=1,
        batch=3,
        prefetch=2,
        poll_interval=0.05,
        grace_period=0.2,
        breaker_backoff_s=0.1,
        breaker_backoff_cap_s=0.4,
    )
    seen = {}

    async def go(model):
        backend = BackendClient(fake_backend.url, TOKEN, retry=RetryPolicy(attempts=2, base=0.01))
        runner = LLMRunner(model.base_url, model="m", max_retries=0)
        runtime = NodeRuntime(backend, {"llm": runner}, [ECHO_SUMMARY], config)
        node = asyncio.create_task(runtime.run())
        while len(fake_backend.calls("fail")) < 3:
            await asyncio.sleep(0.01)
        seen["paused"] = dict(runtime.paused)
        exchanges = len(fake_backend.calls("jobs/exchange"))
        await asyncio.sleep(1.5)  # the model stays down
        seen["exchanges while paused"] = len(fake_backend.calls("jobs/exchange")) - exchanges
        seen["probes while paused"] = list(model.probes)
        model.down = False
        while not all(job.status == "done" for job in fake_backend.jobs.values()):
            await asyncio.sleep(0.01)
        runtime.request_shutdown()
        await asyncio.wait_for(node, 10)
        await backend.aclose()
        await runner.aclose()
        return runtime

    with SwitchableModel() as model:
        runtime = asyncio.run(go(model))

    # Each held job went back once: the first after failing, the other two untried.
    fails = fake_backend.calls("fail")
    assert [fail.body["release"] for fail in fails] == [True, True, True]
    errors = sorted(fail.body["error"] for fail in fails)
    assert errors[0].startswith("LLM server failed") and "model not loaded" in errors[0]
    assert all(error.startswith("paused: LLM server failed") for error in errors[1:])
    assert list(seen["paused"]) == ["llm"]
    assert seen["exchanges while paused"] == 0
    # Probes back off (0.2, 0.4, 0.4 … s apart, capped), not a poll every 0.05 s.
    probes = seen["probes while paused"]
    assert 3 <= len(probes) <= 7
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert min(gaps) >= 0.15 and max(gaps) < 0.7
    assert runtime.paused == {} and runtime.stats.done == 3
    assert [s["state"] for s in fake_backend.statuses] == ["paused", "working"]
    assert "model not loaded" in fake_backend.statuses[0]["reason"]


def test_an_idle_runner_is_health_checked_before_leasing(fake_backend):
    fake_backend.add_job("echo_summary", {"text": "a"})
    config = RuntimeConfig(poll_interval=0.05, grace_period=0.2, health_check_s=0.0)

    async def go(model):
        backend = BackendClient(fake_backend.url, TOKEN, retry=RetryPolicy(attempts=2, base=0.01))
        runner = LLMRunner(model.base_url, model="m", max_retries=0)
        runtime = NodeRuntime(backend, {"llm": runner}, [ECHO_SUMMARY], config)
        node = asyncio.create_task(runtime.run())
        while not runtime.paused:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        runtime.request_shutdown()
        await asyncio.wait_for(node, 10)
        await backend.aclose()
        await runner.aclose()
        return runtime

    with SwitchableModel() as model:
        runtime = asyncio.run(go(model))
    assert "health check failed" in runtime.paused["llm"].reason
    assert fake_backend.calls("jobs/exchange") == []  # never leased for a dead model
    assert fake_backend.jobs[1].status == "queued"
