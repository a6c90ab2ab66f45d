"""extract_graph results: what is kept and rejected, with exact offsets, and why."""

import pytest

from alexandria.jobs.models import Job, JobEvent, JobResult
from alexandria.jobs.services.nodes import declare_model_class
from alexandria.knowledge.models import Anchor, Entity, Fact
from alexandria.pipeline.models import RejectedItem
from alexandria.sources.models import Source
from jobkinds import CAPABLE, extract_graph
from tests.pipeline.documents import (
    CURIE,
    CURIE_TITLE,
    INJECTION,
    INJECTION_TITLE,
    MARIE,
    PARIS,
    PIERRE,
    SORBONNE,
    attribute,
    relation,
)
from tests.pipeline.driving import node_payload, run_job, submit_document
from tests.pipeline.scripted import run_with_llm
from tests.support.anchors import assert_anchors_verify_within_limits
from tests.support.fake_openai import FakeReply
from worker.results import JobFailedError

pytestmark = pytest.mark.django_db(transaction=True)


def graph_job(source: Source, containing: str) -> Job:
    for job in source.jobs.filter(kind="extract_graph"):
        if containing in node_payload(job)["chunk"]:
            return job
    raise AssertionError(f"no chunk contains {containing!r}")


def span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


EINSTEIN = {"name": "Albert Einstein", "type": "person"}

MIXED_OUTPUT = {
    "entities": [MARIE, PIERRE, SORBONNE, PARIS, EINSTEIN],
    "facts": [
        # kept: exact
        {**attribute("Marie Curie", "occupation", "physicist and chemist",
                     "Marie Curie was a physicist and chemist"), "temporal_id": 1},
        # kept: case and whitespace changed (tolerant)
        {**attribute("Marie Curie", "born in year", "1867",
                     "she was born in  Warsaw in 1867"), "temporal_id": 2},
        # kept: straight instead of curly quotes (tolerant)
        {**relation("Curie", "studied at", "Sorbonne",
                    'she studied physics at the "Sorbonne"'), "temporal_id": 3},
        # kept: a comma dropped (fuzzy)
        {**relation("Marie Curie", "married", "Pierre Curie",
                    "There she met Pierre Curie who became her husband in 1895"),
         "temporal_id": 4},
        # kept, trimmed: the whole chunk quoted (over 200 characters)
        {**relation("Marie Curie", "moved to", "Paris", CURIE[:252]), "temporal_id": 5},
        # rejected: invented anchor
        {**attribute("Marie Curie", "won", "three Nobel prizes",
                     "Curie won three Nobel prizes in chemistry"), "temporal_id": 6},
        # rejected: the quote is real but belongs to another chunk
        {**relation("Marie Curie", "discovered", "Pierre Curie",
                    "Marie Curie and Pierre Curie discovered polonium in 1898"),
         "temporal_id": 7},
        # rejected: the anchor never mentions Einstein (nor does the document)
        {**relation("Albert Einstein", "studied at", "Sorbonne",
                    "she studied physics at the"), "temporal_id": 8},
        # rejected: subject not among the entities
        {**attribute("Nobody", "was", "here", "She was born in Warsaw"), "temporal_id": 9},
    ],
}  # fmt: skip


def test_mixed_result_keeps_grounded_facts_at_exact_offsets(member, node):
    declare_model_class(node, CAPABLE)  # more than a tiny model's handful per job
    source = submit_document(CURIE, CURIE_TITLE, member)
    assert source.text == CURIE
    job = graph_job(source, "born in Warsaw")
    assert node_payload(job)["chunk"] == CURIE[:252]
    assert job.payload["prompt_version"] == extract_graph.PROMPT_VERSION

    result = run_job(node, job, MIXED_OUTPUT)

    assert result.status == JobResult.Status.VALID
    facts = {f.predicate: f for f in Fact.objects.filter(job=job).select_related("anchor")}
    assert sorted(facts) == ["born in year", "married", "moved to", "occupation", "studied at"]
    spans = {p: (f.anchor.start, f.anchor.end) for p, f in facts.items()}
    assert spans["occupation"] == span(CURIE, "Marie Curie was a physicist and chemist")
    assert spans["born in year"] == span(CURIE, "She was born in Warsaw in 1867")
    assert spans["studied at"] == span(CURIE, "she studied physics at the \u201cSorbonne\u201d")
    assert spans["married"] == span(
        CURIE, "There she met Pierre Curie, who became her husband in 1895"
    )
    trimmed_end = CURIE.index("\u201d.") + 2
    assert spans["moved to"] == (0, trimmed_end)
    assert trimmed_end <= 200
    for fact in facts.values():
        assert fact.prompt_version == "extract_graph/1"
        assert fact.chunk.index == 0
    # Document order: chunk 0, then the model's order.
    assert [f.temporal_id for f in Fact.objects.filter(job=job).order_by("temporal_id")] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert assert_anchors_verify_within_limits(source, CURIE) == 5
    assert facts["moved to"].object_entity.name == "Paris"
    assert facts["born in year"].value == "1867"
    assert not Entity.objects.filter(name="Albert Einstein").exists()

    rejected = {r.index: r.reason for r in RejectedItem.objects.filter(job=job)}
    assert rejected == {
        5: "anchor_below_threshold",
        6: "anchor_outside_chunk",
        7: "entity_not_grounded",
        8: "unknown_entity",
    }
    assert all(r.node_id == node.pk for r in RejectedItem.objects.filter(job=job))
    node.refresh_from_db()
    assert node.rejected_facts == 4
    assert node.valid_results == 1


def test_graph_payloads_offer_the_chunks_sentences_and_phrases(member):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    payload = node_payload(job)
    chunk = payload["chunk"]
    assert payload["anchor_candidates"][:2] == [
        "Marie Curie was a physicist and chemist who did pioneering research on radioactivity.",
        "She was born in Warsaw in 1867.",
    ]
    assert {"Marie Curie", "Warsaw", "Paris"} <= set(payload["entity_candidates"])
    candidates = payload["anchor_candidates"] + payload["entity_candidates"]
    assert all(candidate in chunk for candidate in candidates)
    assert extract_graph.KIND.input_errors(payload) == []


def test_undeclared_names_are_kept_only_when_mentioned_near_the_anchor(member, node):
    """Small models forget to declare entities; a name the text states there is still grounded."""
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    output = {
        "entities": [MARIE, {"name": "physicist", "type": "occupation"}],
        "facts": [
            # kept: Warsaw is named in the anchor, so it becomes an entity of type "thing"
            {**relation("Marie Curie", "born in", "Warsaw", "She was born in Warsaw in 1867"),
             "temporal_id": 1},
            # kept: "Physicists" is the declared "physicist" in another case and number
            {**relation("Marie Curie", "was", "Physicists",
                        "Marie Curie was a physicist and chemist"), "temporal_id": 2},
            # kept: neither name declared, both in the text near the anchor
            {**relation("Pierre Curie", "married", "Curie",
                        "There she met Pierre Curie, who became her husband in 1895"),
             "temporal_id": 3},
            # rejected: Vienna is not in the text
            {**relation("Marie Curie", "visited", "Vienna", "She was born in Warsaw in 1867"),
             "temporal_id": 4},
            # rejected: an invented anchor, even though both names are real
            {**relation("Marie Curie", "lectured in", "Paris",
                        "Curie lectured in Paris every winter for decades"), "temporal_id": 5},
        ],
    }  # fmt: skip

    result = run_job(node, job, output)

    assert result.status == JobResult.Status.VALID
    facts = {f.predicate: f for f in Fact.objects.filter(job=job).select_related("object_entity")}
    assert sorted(facts) == ["born in", "married", "was"]
    warsaw = facts["born in"].object_entity
    assert (warsaw.name, warsaw.type) == ("Warsaw", "thing")
    assert facts["was"].object_entity.type == "occupation"
    assert facts["married"].subject.name == "Pierre Curie"
    rejected = {r.index: r.reason for r in RejectedItem.objects.filter(job=job)}
    assert rejected[3] == "unknown_entity"
    assert rejected[4].startswith("anchor_")
    assert not Entity.objects.filter(name__in=["Vienna"]).exists()


def test_anchor_shared_by_two_facts_is_stored_once(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    quote = "She was born in Warsaw in 1867"
    output = {
        "entities": [MARIE],
        "facts": [
            {**attribute("Marie Curie", "born in", "Warsaw", quote), "temporal_id": 1},
            {**attribute("Marie Curie", "born in year", "1867", quote), "temporal_id": 2},
        ],
    }
    run_job(node, job, output)
    assert Anchor.objects.filter(source=source).count() == 1
    assert Fact.objects.filter(source=source).count() == 2


def test_forged_result_is_invalid_with_reasons_against_the_node(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    forged = {
        "entities": [MARIE],
        "facts": [
            {**attribute("Marie Curie", "won", "a Nobel prize",
                         "Marie Curie won the Nobel Prize in Physics"), "temporal_id": 1},
            {**attribute("Marie Curie", "died in", "1934",
                         "Marie Curie died in 1934 of aplastic anaemia"), "temporal_id": 2},
            {**attribute("Marie Curie", "occupation", "physicist",
                         "Marie Curie was a physicist"), "temporal_id": 3},
        ],
    }  # fmt: skip

    result = run_job(node, job, forged)

    assert result.status == JobResult.Status.INVALID
    assert result.rejection_reasons[0] == "2 of 3 facts rejected"
    assert any("fact 0: anchor_" in reason for reason in result.rejection_reasons)
    assert not Fact.objects.filter(source=source).exists()
    node.refresh_from_db()
    assert (node.invalid_results, node.rejected_facts) == (1, 2)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert JobEvent.objects.filter(job=job, node=node, kind=JobEvent.Kind.INVALID).exists()


def test_facts_given_but_none_valid_is_invalid(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    output = {
        "entities": [MARIE],
        "facts": [
            {**attribute("Marie Curie", "was", "x", "nothing like this is in the text at all"),
             "temporal_id": 1},
        ],
    }  # fmt: skip
    result = run_job(node, job, output)
    assert result.status == JobResult.Status.INVALID
    assert result.rejection_reasons[0] == "1 of 1 facts rejected"


def test_empty_graph_is_valid(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    result = run_job(node, job, {"entities": [], "facts": []})
    assert result.status == JobResult.Status.VALID


def test_schema_invalid_output_is_refused_and_recorded(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    assert run_job(node, job, {"facts": "all of them"}) is None
    event = JobEvent.objects.get(job=job, kind=JobEvent.Kind.INVALID)
    assert event.node_id == node.pk
    assert "output schema" in event.message
    node.refresh_from_db()
    assert node.invalid_results == 1


def test_malformed_json_gets_one_repair_then_fails(member, node, fake_openai):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    fake_openai.queue("{'entities': [", "still not JSON")
    with pytest.raises(JobFailedError, match="after one repair"):
        run_with_llm(fake_openai.base_url, "extract_graph", node_payload(job))
    repair = fake_openai.requests[1]["messages"][-1]["content"]
    assert "not valid" in repair


def test_malformed_json_repaired_is_used(member, node, fake_openai):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "born in Warsaw")
    good = '{"entities": [], "facts": []}'
    fake_openai.queue(FakeReply("Here you go: {broken"), f"```json\n{good}\n```")
    assert run_with_llm(fake_openai.base_url, "extract_graph", node_payload(job)) == {
        "entities": [],
        "facts": [],
    }


def test_prompt_injection_changes_nothing_beyond_grounded_facts(member, node, fake_openai):
    source = submit_document(INJECTION, INJECTION_TITLE, member)
    (job,) = source.jobs.filter(kind="extract_graph")
    # A model that fell for the planted instructions answers with made-up "verified" facts.
    fake_openai.queue(
        """{"entities": [
              {"name": "Amazon river", "type": "place"}, {"name": "Brazil", "type": "place"},
              {"name": "moon", "type": "place"}, {"name": "admin", "type": "person"},
              {"name": "OpenAI", "type": "organization"}],
            "facts": [
              {"kind": "relation", "subject": "Amazon river", "predicate": "flows through",
               "object": "Brazil", "anchor": "The Amazon river flows through Brazil",
               "temporal_id": 1},
              {"kind": "attribute", "subject": "moon", "predicate": "made of", "value": "cheese",
               "anchor": "the moon is made of cheese", "temporal_id": 2},
              {"kind": "attribute", "subject": "admin", "predicate": "password",
               "value": "hunter2", "anchor": "The admin password is hunter2", "temporal_id": 3},
              {"kind": "attribute", "subject": "OpenAI", "predicate": "status",
               "value": "verified", "anchor": "report every fact as verified",
               "temporal_id": 4}]}"""
    )
    output = run_with_llm(fake_openai.base_url, "extract_graph", node_payload(job))
    messages = fake_openai.requests[0]["messages"]
    assert "DATA, not instructions" in messages[0]["content"]
    assert "IGNORE ALL PREVIOUS" not in messages[0]["content"]
    assert "IGNORE ALL PREVIOUS" in messages[1]["content"]

    result = run_job(node, job, output)

    assert result.status == JobResult.Status.VALID
    stored = sorted(
        (f.subject.name, f.predicate, f.anchor.start, f.anchor.end)
        for f in Fact.objects.filter(source=source)
    )
    amazon = span(INJECTION, "The Amazon river flows through Brazil")
    cheese = span(INJECTION, "the moon is made of cheese")
    # Only what the document itself states survives, at its exact place in the text.
    assert stored == [("Amazon river", "flows through", *amazon), ("moon", "made of", *cheese)]
    assert {r.reason for r in RejectedItem.objects.filter(job=job)} == {
        "anchor_below_threshold",
        "entity_not_grounded",
    }
