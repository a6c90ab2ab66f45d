"""Model classes and output contracts (issue 25): a node declares what its model can do, the
jobs it leases name the contract that follows, and its results are held to that contract."""

import pytest

from alexandria.jobs.models import JobEvent
from alexandria.jobs.services.lifecycle import create_job
from jobkinds import CAPABLE, TINY, extract_graph

pytestmark = pytest.mark.usefixtures("queue_path")

CHUNK = "Caffeine blocks adenosine receptors. Adenosine makes people feel sleepy."
GRAPH_PAYLOAD = {
    "source_title": "Caffeine",
    "chunk_index": 0,
    "chunk_start": 0,
    "chunk_end": len(CHUNK),
    "context_before": "",
    "chunk": CHUNK,
    "context_after": "",
    "prompt_version": extract_graph.PROMPT_VERSION,
}


def graph_output(facts: int) -> dict:
    fact = {
        "kind": "relation",
        "subject": "Caffeine",
        "predicate": "blocks",
        "object": "adenosine receptors",
        "anchor": "Caffeine blocks adenosine receptors",
    }
    return {
        "entities": [
            {"name": "Caffeine", "type": "substance"},
            {"name": "adenosine receptors", "type": "thing"},
        ],
        "facts": [{**fact, "temporal_id": i} for i in range(1, facts + 1)],
    }


def graph_node(register_node, name: str = "graph-node"):
    node = register_node(name=name, kinds=("extract_graph",))
    for _ in range(2):
        create_job("extract_graph", GRAPH_PAYLOAD)
    return node


def declare(node, model_class: str):
    return node.client.patch("/api/v1/nodes/me", {"model_class": model_class}, format="json")


def test_registration_stores_a_model_class_and_refuses_an_unknown_one(bot_client):
    def register(name: str, capabilities: dict):
        body = {"name": name, "capabilities": {"kinds": ["extract_graph"], **capabilities}}
        return bot_client.post("/api/v1/nodes", body, format="json")

    assert register("a", {}).json()["capabilities"]["model_class"] == TINY
    assert register("b", {"model_class": CAPABLE}).json()["capabilities"]["model_class"] == CAPABLE
    refused = register("c", {"model_class": "enormous"})
    assert refused.status_code == 400
    assert "model_class" in str(refused.json())


def test_a_node_declares_its_model_class_with_its_capabilities(register_node):
    node = register_node(kinds=("extract_graph",))
    declared = declare(node, CAPABLE)
    assert declared.status_code == 200, declared.content
    assert declared.json()["capabilities"] == {
        "kinds": ["extract_graph"],
        "models": [],
        "max_context_tokens": 0,
        "gpu": "RTX 4090",
        "model_class": CAPABLE,
    }
    assert node.model.capabilities["model_class"] == CAPABLE
    assert node.client.get("/api/v1/nodes/me").json()["capabilities"]["model_class"] == CAPABLE
    assert declare(node, "enormous").status_code == 400
    assert node.model.capabilities["model_class"] == CAPABLE


def test_leased_jobs_name_the_contract_of_the_nodes_model_class(register_node):
    node = graph_node(register_node)
    (tiny_job,) = node.lease().json()["jobs"]
    assert tiny_job["contract"] == TINY
    declare(node, CAPABLE)
    (capable_job,) = node.exchange(max_jobs=1).json()["jobs"]
    assert capable_job["contract"] == CAPABLE
    assert capable_job["payload"] == tiny_job["payload"] == GRAPH_PAYLOAD


def test_a_tiny_node_is_held_to_the_tiny_limits(register_node):
    node = graph_node(register_node)
    first, second = (job["lease_id"] for job in node.lease(2).json()["jobs"])
    too_many = extract_graph.DECODING_MAX_FACTS + 1

    refused = node.submit(first, graph_output(too_many))
    assert refused.status_code == 400, refused.content
    assert refused.json()["errors"] == [
        f"$.facts: {too_many} items, at most 6 under the tiny contract"
    ]
    assert JobEvent.objects.filter(kind=JobEvent.Kind.INVALID).count() == 1
    assert node.model.invalid_results == 1
    taken = node.submit(second, graph_output(extract_graph.DECODING_MAX_FACTS))
    assert taken.status_code == 200, taken.content


def test_a_capable_node_hands_in_more_than_a_tiny_one_may(register_node):
    node = graph_node(register_node)
    declare(node, CAPABLE)
    first, second = (job["lease_id"] for job in node.lease(2).json()["jobs"])
    more = extract_graph.DECODING_MAX_FACTS + 4

    assert node.submit(first, graph_output(more)).status_code == 200
    (outcome,) = node.exchange([(second, graph_output(more))]).json()["results"]
    assert outcome["status"] == 200, outcome
    assert node.model.invalid_results == 0
