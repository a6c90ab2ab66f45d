"""The node side of model classes (issue 25): ``--model-class`` declares what the model can do,
each leased job names its output contract, and the LLM runner decodes and checks under it."""

import asyncio
import json

import pytest

from jobkinds import CAPABLE, TINY, derive, extract_graph
from tests.support.fake_backend import FakeBackend
from tests.support.fake_openai import Response
from tests.worker.conftest import TOKEN
from tests.worker.test_decoding_schemas import DERIVE_PAYLOAD, GRAPH_PAYLOAD
from worker.api import Lease
from worker.cli import ConfigError, build_parser, serve, settings_from_args
from worker.llm import LLMRunner


class ContractBackend(FakeBackend):
    """The fake backend, storing the model class a node declares (``PATCH /nodes/me``) and
    naming its contract in every job it leases, as the real backend does."""

    def __init__(self) -> None:
        super().__init__([TOKEN], lease_seconds=30)
        self.model_class = TINY

    def handle(self, request):
        if request.path == "/api/v1/nodes/me" and request.method in ("GET", "PATCH"):
            with self._lock:
                self.requests.append(request)
                if request.method == "PATCH":
                    self.model_class = request.body["model_class"]
                capabilities = {"kinds": ["extract_graph"], "model_class": self.model_class}
                return Response(200, {"id": 1, "name": "n", "capabilities": capabilities})
        return super().handle(request)

    def _lease_jobs(self, token, max_jobs, kinds):
        jobs = super()._lease_jobs(token, max_jobs, kinds)
        return [{**job, "contract": self.model_class} for job in jobs]


def facts_reply(count: int) -> str:
    """An extract_graph answer of ``count`` grounded facts about the payload's first sentence."""
    fact = {
        "kind": "relation",
        "anchor": "Caffeine blocks adenosine receptors in the brain.",
        "subject": "Caffeine",
        "predicate": "blocks",
        "object": "adenosine receptors",
    }
    entities = [{"name": "Caffeine", "type": "substance"}]
    facts = [{**fact, "temporal_id": i} for i in range(1, count + 1)]
    return json.dumps({"entities": entities, "facts": facts})


def node_settings(backend, llm, *extra: str):
    args = ["--server", backend.url, "--token", TOKEN, "--llm-base-url", llm.base_url]
    args += ["--kinds", "extract_graph", "--once", "--no-progress", *extra]
    return settings_from_args(build_parser().parse_args(args))


def test_model_class_comes_from_the_flag_or_the_environment(monkeypatch):
    base = ["--server", "http://backend", "--token", "t"]
    assert settings_from_args(build_parser().parse_args(base)).model_class == TINY
    capable = build_parser().parse_args([*base, "--model-class", "capable"])
    assert settings_from_args(capable).model_class == CAPABLE
    monkeypatch.setenv("ALEXANDRIA_MODEL_CLASS", "capable")
    assert settings_from_args(build_parser().parse_args(base)).model_class == CAPABLE
    with pytest.raises(ConfigError, match="tiny model"):
        settings_from_args(build_parser().parse_args([*base, "--local"]))
    monkeypatch.setenv("ALEXANDRIA_MODEL_CLASS", "huge")
    with pytest.raises(ConfigError, match="--model-class"):
        settings_from_args(build_parser().parse_args(base))


def test_a_capable_node_declares_itself_and_hands_in_every_fact_of_a_chunk(fake_openai):
    fake_openai.responder = lambda request: facts_reply(10)
    with ContractBackend() as backend:
        job_id = backend.add_job("extract_graph", GRAPH_PAYLOAD)
        code = asyncio.run(
            serve(node_settings(backend, fake_openai, "--model-class", "capable"), None)
        )
        assert code == 0
        (declared,) = [call for call in backend.requests if call.method == "PATCH"]
        assert declared.body == {"model_class": CAPABLE}
        job = backend.jobs[job_id]
        assert job.status == "done", job.errors
        assert len(job.output["facts"]) == 10
    (request,) = fake_openai.requests
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["facts"]["maxItems"] == extract_graph.CAPABLE_MIN_ITEMS
    assert "enum" not in schema["properties"]["facts"]["items"]["anyOf"][0]["properties"]["anchor"]


def test_a_tiny_node_repairs_an_answer_over_its_limits_and_declares_nothing(fake_openai):
    fake_openai.queue(facts_reply(10), facts_reply(extract_graph.DECODING_MAX_FACTS))
    with ContractBackend() as backend:
        job_id = backend.add_job("extract_graph", GRAPH_PAYLOAD)
        assert asyncio.run(serve(node_settings(backend, fake_openai), None)) == 0
        assert not [call for call in backend.requests if call.method == "PATCH"]
        job = backend.jobs[job_id]
        assert job.status == "done", job.errors
        assert len(job.output["facts"]) == extract_graph.DECODING_MAX_FACTS
    first, repair = fake_openai.requests
    schema = first["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["facts"]["maxItems"] == extract_graph.DECODING_MAX_FACTS
    assert "10 items, at most 6 under the tiny contract" in repair["messages"][-1]["content"]


def test_the_capable_contract_asks_for_the_full_derivation(fake_openai):
    hypothesis = {
        "claim": "Caffeine keeps people awake by blocking adenosine.",
        "stance": "supports",
        "evidence": [7, 9],
        "confidence": 0.8,
        "supports": "Sleep studies with caffeine.",
        "contradicts": "Caffeine that leaves sleep unchanged.",
    }
    instruction = {
        "goal": "Sleep better",
        "prerequisites": ["a coffee habit"],
        "steps": ["Drink no coffee after noon."],
        "evidence": [7],
    }
    answer = {"hypotheses": [hypothesis] * 5, "instructions": [instruction]}
    fake_openai.responder = lambda request: json.dumps(answer)

    async def run(contract):
        runner = LLMRunner(fake_openai.base_url, model="fake-model", max_retries=0)
        try:
            return (await runner.run(derive.KIND, DERIVE_PAYLOAD, contract)).output
        finally:
            await runner.aclose()

    assert asyncio.run(run(CAPABLE)) == answer
    sent = fake_openai.requests[0]["response_format"]["json_schema"]["schema"]["properties"]
    assert {"supports", "contradicts"} <= set(sent["hypotheses"]["items"]["properties"])
    assert "prerequisites" in sent["instructions"]["items"]["properties"]
    with pytest.raises(Exception, match="at most 4 under the tiny contract"):
        asyncio.run(run(TINY))  # five hypotheses, twice: the tiny contract allows four


def test_a_lease_without_a_contract_is_tiny():
    job = {
        "lease_id": "l",
        "job_id": 1,
        "kind": "extract_graph",
        "kind_version": "1",
        "payload": {},
        "lease_seconds": 30,
        "lease_expires_at": "2026-01-01T00:00:00Z",
    }
    assert Lease.from_json(job).contract == TINY
    assert Lease.from_json({**job, "contract": CAPABLE}).contract == CAPABLE


def test_capable_bounds_grow_with_the_chunk_up_to_the_schemas():
    def limits(chars: int) -> dict:
        return extract_graph.KIND.limits(CAPABLE, {**GRAPH_PAYLOAD, "chunk_end": chars})

    assert limits(100) == {"facts": 16, "entities": 16}  # the floor
    assert limits(2000) == {"facts": 50, "entities": 66}
    assert limits(100_000) == {"facts": extract_graph.MAX_FACTS, "entities": 200}
    assert extract_graph.KIND.limits(CAPABLE) == {}  # sized to a payload, or none
    assert derive.KIND.limits(CAPABLE, DERIVE_PAYLOAD) == {}
    with pytest.raises(ValueError, match="unknown output contract"):
        extract_graph.KIND.limits("huge")
