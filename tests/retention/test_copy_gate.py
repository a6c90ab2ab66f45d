"""Acceptance: a hostile node result that copies a whole chunk into an entity name, an
attribute value or a hypothesis is rejected with a reason, and the node's counters rise. The
gate reads the source's fingerprint, so it holds after the purge too, and its reasons never
quote what was copied."""

import json

import pytest

from alexandria.jobs.models import Job, JobResult, WorkerNode
from alexandria.jobs.services.nodes import declare_model_class
from alexandria.knowledge.models import Anchor, Fact, KnowledgeItem
from alexandria.layers.services.abstraction import check_composition
from alexandria.pipeline.handlers import ProfileHandler
from alexandria.sources.fingerprints import copied_runs
from alexandria.sources.models import Source
from alexandria.sources.services import purge_texts
from jobkinds import CAPABLE, get_kind
from tests.pipeline.documents import CURIE, CURIE_GRAPH, CURIE_TITLE
from tests.pipeline.driving import drain, run_job, submit_document
from tests.pipeline.scripted import ScriptedModel

pytestmark = pytest.mark.django_db(transaction=True)


def first_chunk(source: Source) -> str:
    chunk = source.chunks.order_by("index").first()
    return source.text[chunk.start : chunk.end]


def first_sentence(text: str) -> str:
    return text[: text.index(".") + 1]


def counters(node: WorkerNode) -> tuple[int, int]:
    node.refresh_from_db()
    return node.invalid_results, node.rejected_facts


def assert_rejected_for_copying(result: JobResult, source: Source) -> None:
    assert result.status == JobResult.Status.INVALID
    assert any("verbatim_copy" in reason for reason in result.rejection_reasons)
    assert any("copyright gate" in reason for reason in result.rejection_reasons)
    # The reasons say where and how long, never the copied words themselves.
    assert copied_runs(result.rejection_reasons, [source.pk]) == []


def graph_output(entities: list[dict], fact: dict) -> dict:
    return {"entities": entities, "facts": [{**fact, "temporal_id": 1}]}


def test_a_chunk_copied_into_an_attribute_value_is_rejected(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    chunk = first_chunk(source)
    job = source.jobs.filter(kind="extract_graph").order_by("pk").first()
    before = counters(node)
    output = graph_output(
        [{"name": "Marie Curie", "type": "person"}],
        {
            "kind": "attribute",
            "subject": "Marie Curie",
            "predicate": "is described as",
            "value": chunk,
            "anchor": first_sentence(chunk),
        },
    )
    result = run_job(node, job, output)
    assert_rejected_for_copying(result, source)
    assert counters(node) == (before[0] + 1, before[1] + 1)
    assert not Fact.objects.filter(source=source).exists()


def test_a_chunk_copied_into_an_entity_name_is_rejected(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    chunk = first_chunk(source)
    name = chunk[:300].rsplit(" ", 1)[0]  # as much of the chunk as a name may hold
    job = source.jobs.filter(kind="extract_graph").order_by("pk").first()
    before = counters(node)
    output = graph_output(
        [{"name": name, "type": "person", "aliases": ["Curie"]}],
        {
            "kind": "attribute",
            "subject": name,
            "predicate": "born in year",
            "value": "1867",
            "anchor": "She was born in Warsaw in 1867",
        },
    )
    result = run_job(node, job, output)
    assert_rejected_for_copying(result, source)
    assert counters(node) == (before[0] + 1, before[1] + 1)
    assert not Fact.objects.filter(source=source).exists()


def test_a_rejection_quoting_a_copied_name_keeps_its_reason_but_not_the_words(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    # Words of the last paragraph, far from the anchor: the graph check rejects the entity as
    # not grounded, and its message names it.
    name = CURIE[CURIE.index("To isolate radium") :][:120].rsplit(" ", 1)[0]
    job = source.jobs.filter(kind="extract_graph").order_by("pk").first()
    output = graph_output(
        [{"name": "Marie Curie", "type": "person"}, {"name": name, "type": "method"}],
        {
            "kind": "relation",
            "subject": "Marie Curie",
            "predicate": "is",
            "object": name,
            "anchor": "She was born in Warsaw in 1867",
        },
    )
    result = run_job(node, job, output)
    assert result.status == JobResult.Status.INVALID
    (detail,) = result.rejection_reasons[1:]
    assert detail.startswith("fact 0: entity_not_grounded: details withheld: copies 1 passage")
    assert copied_runs(result.rejection_reasons, [source.pk]) == []


def scripted(model: ScriptedModel):
    def produce(kind: str, payload: dict) -> dict:
        return json.loads(model({"messages": get_kind(kind).build_messages(payload)}))

    return produce


def test_a_chunk_copied_into_a_hypothesis_is_rejected(member, node):
    declare_model_class(node, CAPABLE)  # the scripted graph holds more than a tiny model's
    source = submit_document(CURIE, CURIE_TITLE, member)
    chunk = first_chunk(source)
    drain(node, scripted(ScriptedModel(facts=CURIE_GRAPH)), kinds=["extract_graph"])
    drain(node, scripted(ScriptedModel(facts=CURIE_GRAPH)), kinds=["resolve_entities"])
    (job,) = source.jobs.filter(kind="derive")
    anchor_ids = list(Anchor.objects.filter(source=source).values_list("pk", flat=True))
    before = counters(node)
    output = {
        "hypotheses": [
            {"claim": chunk, "stance": "supports", "evidence": anchor_ids[:1], "confidence": 0.9}
        ],
        "instructions": [],
    }
    result = run_job(node, job, output)
    assert_rejected_for_copying(result, source)
    assert counters(node) == (before[0] + 1, before[1] + 1)
    assert not KnowledgeItem.objects.filter(job=job).exists()


def test_the_gate_holds_after_the_purge(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    chunk = first_chunk(source)
    (describe,) = source.jobs.filter(kind="describe")
    purge_texts(Source.objects.filter(pk=source.pk))
    source.refresh_from_db()
    assert source.is_purged and source.text == ""

    report = ProfileHandler("describe").validate(
        describe, {"genre": "b", "category": "c", "keywords": [], "summary": chunk}
    )
    assert not report.is_valid and "copyright gate" in report.reasons[0]
    own_words = "A short biography of a scientist and her work on radioactivity."
    report = ProfileHandler("describe").validate(
        describe, {"genre": "b", "category": "c", "keywords": [], "summary": own_words}
    )
    assert report.is_valid
    (run,) = copied_runs(["Intro. " + chunk + " Outro."], [source.pk])
    assert run.source_ids == (source.pk,) and run.word_count == len(chunk.split())


def test_an_abstraction_copying_a_purged_source_it_rests_on_is_rejected(member):
    source = submit_document(CURIE, CURIE_TITLE, member)
    chunk = first_chunk(source)
    anchor = Anchor.objects.create(
        source=source, start=0, end=11, span_sha256="0" * 64, text_start="Marie Curie"
    )
    item = KnowledgeItem.objects.create(kind="hypothesis", text="Curie studied radioactivity.")
    item.anchors.set([anchor])
    higher = KnowledgeItem.objects.create(kind="hypothesis", layer=2, text="Science moved.")
    higher.derived_from.set([item])
    purge_texts(Source.objects.filter(pk=source.pk))
    source.refresh_from_db()
    job = Job.objects.create(
        kind="abstract",
        payload={
            "phase": "compose",
            "node": {"id": higher.pk, "kind": "hypothesis", "text": higher.text},
            "neighbours": [],
        },
    )

    def composed(text: str) -> dict:
        return {"kind": "hypothesis", "text": text, "combines": [higher.pk]}

    check = check_composition(
        job, {"items": [composed(chunk), composed("Radioactivity research changed physics.")]}
    )
    assert [item["text"] for item in check.kept] == ["Radioactivity research changed physics."]
    (reason,) = check.rejected
    assert reason.startswith("item 0: copies") and "copyright gate" in reason
