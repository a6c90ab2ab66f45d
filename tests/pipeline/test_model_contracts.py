"""Capable models unconstrained (issue 25): a node declares its model class, the jobs it
leases name the output contract, and a grammar-constrained server decodes each request under
that contract's schema, through to what is stored.

The scripted model always answers in full (ten facts for the one chunk, a hypothesis with
``supports`` / ``contradicts``, an instruction with ``prerequisites``); the server in front of
it keeps only what the request's schema admits (``tests.pipeline.constrained``). The capable
contract keeps all of it; the tiny one keeps today's handful of facts and narrow fields.
"""

import pytest
from rest_framework.test import APIClient

from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services.nodes import register_node
from alexandria.knowledge.models import Fact, KnowledgeItem
from alexandria.sources.models import Source
from jobkinds import CAPABLE, TINY, extract_graph
from tests.pipeline.constrained import GrammarConstrained
from tests.pipeline.documents import (
    CURIE,
    CURIE_GRAPH,
    CURIE_TITLE,
    MARIE,
    PIERRE,
    POLONIUM,
    attribute,
    relation,
)
from tests.pipeline.driving import run_job, submit_document
from tests.pipeline.scripted import KIND_NAMES, ScriptedFact, ScriptedModel, run_with_llm

pytestmark = pytest.mark.django_db(transaction=True)

WARSAW = {"name": "Warsaw", "type": "place"}
POLAND = {"name": "Poland", "type": "place"}
# Three more grounded facts: ten for a document that is one chunk, nine entities.
MORE_FACTS = [
    ScriptedFact(
        "born in Warsaw",
        relation("Marie Curie", "born in", "Warsaw", "She was born in Warsaw in 1867"),
        [MARIE, WARSAW],
    ),
    ScriptedFact(
        "became her husband",
        relation("Pierre Curie", "became husband of", "Marie Curie",
                 "There she met Pierre Curie, who became her husband in 1895"),
        [PIERRE, MARIE],
    ),
    ScriptedFact(
        "named the element",
        attribute("polonium", "named after", "Poland", "They named the element after Poland"),
        [POLONIUM, POLAND],
    ),
]  # fmt: skip
FACTS = [*CURIE_GRAPH, *MORE_FACTS]


@pytest.fixture(autouse=True)
def _one_chunk(settings):
    settings.CHUNK_TARGET_WORDS = 400  # the whole document is one chunk


def node_client(volunteer, name: str, model_class: str | None) -> APIClient:
    """A trusted node's API client; it declares ``model_class`` as alexandria-worker does."""
    registered = register_node(volunteer, name=name, capabilities={"kinds": KIND_NAMES})
    WorkerNode.objects.filter(pk=registered.node.pk).update(trust=1.0)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {registered.token}")
    if model_class is not None:
        declared = client.patch("/api/v1/nodes/me", {"model_class": model_class}, format="json")
        assert declared.status_code == 200, declared.content
        assert declared.json()["capabilities"]["model_class"] == model_class
    return client


def analyse(bot_client, client: APIClient, base_url: str) -> tuple[Source, set[str]]:
    """Submit the document and run every job with ``client``'s node: the contract each
    leased job names goes to the node's LLM runner. The source, and the contracts seen."""
    reply = bot_client.post("/api/v1/sources", {"title": CURIE_TITLE, "text": CURIE}, format="json")
    assert reply.status_code == 201, reply.content
    source = Source.objects.get(pk=reply.json()["source"]["id"])
    assert source.chunks.count() == 1
    contracts = set()
    while True:
        leased = client.post("/api/v1/jobs/lease", {"max_jobs": 1}, format="json").json()["jobs"]
        if not leased:
            return source, contracts
        (job,) = leased
        contracts.add(job["contract"])
        output = run_with_llm(base_url, job["kind"], job["payload"], job["contract"])
        submitted = client.post(
            f"/api/v1/leases/{job['lease_id']}/submit", {"output": output}, format="json"
        )
        assert submitted.status_code == 200, submitted.content


def scripted_model() -> GrammarConstrained:
    return GrammarConstrained(ScriptedModel(facts=FACTS))


def test_a_capable_node_stores_every_fact_of_a_chunk_and_the_full_derivation(
    bot_client, volunteer, fake_openai
):
    model = fake_openai.responder = scripted_model()
    client = node_client(volunteer, "big-gpu", CAPABLE)

    source, contracts = analyse(bot_client, client, fake_openai.base_url)

    assert contracts == {CAPABLE}
    (graph_schema,) = model.schemas["extract_graph"]
    facts_schema = graph_schema["properties"]["facts"]
    assert facts_schema["maxItems"] == extract_graph.CAPABLE_MIN_ITEMS > 6
    relation_schema = facts_schema["items"]["anyOf"][0]["properties"]
    assert "enum" not in relation_schema["anchor"]  # free anchors: the server locates them
    assert "pattern" not in relation_schema["predicate"]
    stored = Fact.objects.filter(source=source)
    assert stored.count() == len(FACTS) == 10
    assert set(stored.values_list("chunk__index", flat=True)) == {0}

    items = {item.kind: item for item in KnowledgeItem.objects.filter(job__source=source)}
    assert sorted(items) == ["hypothesis", "instruction"]
    assert items["hypothesis"].details["supports"] == "Letters describing her studies abroad."
    assert items["hypothesis"].details["contradicts"].startswith("Evidence that she studied")
    assert items["instruction"].details["prerequisites"] == ["ore", "acid"]


def test_a_tiny_node_decodes_a_handful_of_facts_and_the_narrow_derivation(
    bot_client, volunteer, fake_openai
):
    model = fake_openai.responder = scripted_model()
    client = node_client(volunteer, "laptop", None)  # declares nothing: tiny, as before

    source, contracts = analyse(bot_client, client, fake_openai.base_url)

    assert contracts == {TINY}
    (graph_schema,) = model.schemas["extract_graph"]
    facts_schema = graph_schema["properties"]["facts"]
    assert facts_schema["maxItems"] == extract_graph.DECODING_MAX_FACTS == 6
    assert "enum" in facts_schema["items"]["anyOf"][0]["properties"]["anchor"]
    stored = Fact.objects.filter(source=source).count()
    assert 0 < stored <= extract_graph.DECODING_MAX_FACTS
    (derive_schema,) = model.schemas["derive"]
    hypothesis = derive_schema["properties"]["hypotheses"]["items"]["properties"]
    assert "supports" not in hypothesis and "contradicts" not in hypothesis
    items = list(KnowledgeItem.objects.filter(job__source=source))
    assert items
    for item in items:
        assert not any(item.details.get(name) for name in ("supports", "contradicts"))
        assert not item.details.get("prerequisites")


def test_the_server_holds_any_result_to_the_capable_bounds_of_its_chunk(member, volunteer):
    registered = register_node(
        volunteer, name="big-gpu", capabilities={"kinds": KIND_NAMES, "model_class": CAPABLE}
    )
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = source.jobs.get(kind="extract_graph")
    bound = extract_graph.capable_limits(job.payload)["facts"]
    assert bound == extract_graph.CAPABLE_MIN_ITEMS  # 648 characters: the floor
    fact = {**FACTS[0].fact, "temporal_id": 1}
    output = {"entities": [MARIE], "facts": [fact] * (bound + 1)}

    result = run_job(registered.node, job, output)

    assert result is not None and result.status == "invalid"
    assert result.rejection_reasons == [
        f"$.facts: {bound + 1} items, at most {bound} under the capable contract"
    ]
    assert not Fact.objects.filter(source=source).exists()
