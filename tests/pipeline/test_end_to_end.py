"""The whole pipeline through the node protocol: submit → chunk → lease → LLM → submit →
validate → graph → resolution → derive/reconstruct → purge, with anchors checked throughout."""

import hashlib

import pytest
from rest_framework.test import APIClient

from alexandria.jobs.models import Job, JobResult
from alexandria.knowledge.models import Entity, Fact, KnowledgeItem
from alexandria.pipeline.models import RejectedItem, SourceProfile
from alexandria.sources.models import Source
from alexandria.textproc.normalize import normalize_text
from tests.pipeline.documents import CURIE, CURIE_GRAPH, CURIE_TITLE
from tests.pipeline.driving import run_next_job_over_http
from tests.pipeline.scripted import ScriptedModel, run_with_llm
from tests.support.anchors import assert_anchors_verify_within_limits

pytestmark = pytest.mark.django_db(transaction=True)


def node_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {token}")
    return client


def work_through_api(client: APIClient, base_url: str, source: Source) -> list[str]:
    """Lease and run jobs one at a time until none is left; the kinds run, in order.

    Before each job, while the source still holds its text, every anchor is checked against
    it.
    """
    kinds = []
    while True:
        source.refresh_from_db()
        if not source.is_purged:
            assert_anchors_verify_within_limits(source, source.text)
        kind = run_next_job_over_http(
            client, lambda kind, payload: run_with_llm(base_url, kind, payload)
        )
        if kind is None:
            return kinds
        kinds.append(kind)


VERBATIM = (
    "In 1891 Curie moved to Paris, where she studied physics at the Sorbonne. There she met "
    "Pierre Curie"
)


def test_submission_to_purge_through_the_node_api(bot_client, registered_node, fake_openai):
    model = ScriptedModel(
        facts=CURIE_GRAPH,
        derive_extra=[
            {"claim": "A forged claim.", "stance": "supports", "evidence": [999999],
             "confidence": 0.9},
            {"claim": VERBATIM, "stance": "neutral", "evidence": "first", "confidence": 0.5},
        ],
    )  # fmt: skip
    fake_openai.responder = model
    reply = bot_client.post("/api/v1/sources", {"title": CURIE_TITLE, "text": CURIE}, format="json")
    assert reply.status_code == 201, reply.content
    source = Source.objects.get(pk=reply.json()["source"]["id"])
    assert source.status == Source.Status.ANALYSING
    assert source.chunks.count() == 3
    planned = sorted(source.jobs.values_list("kind", flat=True))
    assert planned == ["describe", "extract_graph", "extract_graph", "extract_graph", "rate_age"]

    kinds = work_through_api(node_client(registered_node.token), fake_openai.base_url, source)

    # Graph first, then resolution of the uncertain pair, then derive and reconstruct, then
    # the support of the two stored items.
    assert kinds == [
        *["extract_graph"] * 3,
        "resolve_entities",
        "derive",
        "reconstruct",
        *["verify_support"] * 2,
        "describe",
        "rate_age",
    ], kinds
    assert not Job.objects.filter(source=source).exclude(status=Job.Status.DONE).exists()
    assert not JobResult.objects.filter(job__source=source, status="invalid").exists()

    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED
    assert source.is_purged and source.text == ""
    # After the purge the anchors still resolve: the original text (identified by the stored
    # hash) has, at every anchor's offsets, the span its hash and quoted ends describe.
    assert hashlib.sha256(normalize_text(CURIE).encode()).hexdigest() == source.sha256
    assert assert_anchors_verify_within_limits(source, CURIE) == len(CURIE_GRAPH)

    facts = list(Fact.objects.filter(source=source).order_by("temporal_id"))
    assert [f.chunk.index for f in facts] == [0, 0, 0, 1, 1, 1, 2]
    assert [f.temporal_id for f in facts] == [1, 2, 3, 1001, 1002, 1003, 2001]
    assert all(f.prompt_version == "extract_graph/1" for f in facts)

    # "Curie" is Marie Curie's alias: merged lexically. "Curie" vs "Pierre Curie" was asked
    # and denied; the Curie law (a law) is never merged with a person.
    marie = Entity.objects.get(source=source, name="Marie Curie")
    assert Entity.objects.get(source=source, name="Curie").canonical == marie
    assert Entity.objects.get(source=source, name="Pierre Curie").canonical is None
    assert Entity.objects.get(source=source, name="Curie law").canonical is None
    (resolve_job,) = Job.objects.filter(source=source, kind="resolve_entities")
    (pair,) = resolve_job.payload["pairs"]  # one question per pair of groups
    assert pair["a"]["name"] in ("Marie Curie", "Curie")
    assert pair["b"]["name"] == "Pierre Curie"
    assert pair["a"]["quotes"] and pair["b"]["quotes"]

    items = {item.kind: item for item in KnowledgeItem.objects.filter(job__source=source)}
    assert sorted(items) == ["hypothesis", "instruction"]
    assert {item.support for item in items.values()} == {"supported"}
    hypothesis = items["hypothesis"]
    assert hypothesis.layer == 1
    assert hypothesis.author.discord_id == "100000000000000001"
    assert hypothesis.prompt_version == "derive/1"
    assert hypothesis.details["stance"] == "supports"
    assert hypothesis.confidence == 0.6
    assert list(hypothesis.anchors.order_by("start").values_list("start", flat=True)) == [
        f.anchor.start for f in facts[:2]
    ]
    assert items["instruction"].details["steps"][0] == "Dissolve the ore in acid."
    assert set(items["instruction"].anchors.all()) == {facts[-1].anchor}
    rejected = dict(RejectedItem.objects.filter(job__kind="derive").values_list("index", "reason"))
    assert rejected == {1: "no_valid_evidence", 2: "verbatim_copy"}

    profile = SourceProfile.objects.get(source=source)
    assert (profile.genre, profile.category) == ("biography", "physics")
    assert profile.keywords == ["radioactivity", "physics"]
    assert profile.age_rating == 6
    assert profile.age_reasons["violence"] == "none"
    # Members see what was found out about their source through the API.
    shown = bot_client.get(f"/api/v1/sources/{source.pk}").json()["profile"]
    assert (shown["genre"], shown["age_rating"]) == ("biography", 6)
    assert profile.reconstruction.startswith("Marie Curie occupation physicist and chemist.")
    assert profile.reconstruction_fidelity == 1.0
    assert profile.fidelity_details["facts"] == len(CURIE_GRAPH)
    assert profile.fidelity_details["verbatim_runs"] == 0
    assert profile.reconstruct_prompt_version == "reconstruct/1"
    assert profile.entities_resolved_at is not None

    detail = bot_client.get(f"/api/v1/sources/{source.pk}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "analysed"
