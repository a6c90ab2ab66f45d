"""Semantic support of layer-1 items and the quality gate, through the scripted pipeline."""

import json
from pathlib import Path

import pytest

from alexandria.jobs.models import Job
from alexandria.jobs.services.nodes import declare_model_class
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.pipeline.models import RejectedItem
from alexandria.pipeline.services.support import supporting_anchors
from alexandria.search.selectors import visible_items
from alexandria.sources.models import Source
from jobkinds import CAPABLE
from tests.pipeline.driving import drain, submit_document
from tests.pipeline.scripted import ScriptedFact, ScriptedModel
from tests.pipeline.test_stages import scripted

PAIRS = Path(__file__).parents[1] / "data" / "support_pairs.jsonl"

SLEEP_TITLE = "Notes on sleep"
SLEEP = (
    "Caffeine blocks adenosine receptors in the brain. Bright light in the evening delays the "
    "release of melatonin. Regular exercise helps people fall asleep faster."
)
CAFFEINE = {"name": "caffeine", "type": "substance"}
LIGHT = {"name": "bright light", "type": "thing"}
EXERCISE = {"name": "exercise", "type": "activity"}
SLEEP_GRAPH = [
    ScriptedFact(
        "adenosine",
        {"kind": "relation", "subject": "caffeine", "predicate": "blocks",
         "object": "bright light", "anchor": "Caffeine blocks adenosine receptors in the brain"},
        [CAFFEINE, LIGHT],
    ),
    ScriptedFact(
        "melatonin",
        {"kind": "attribute", "subject": "bright light", "predicate": "delays",
         "value": "melatonin", "anchor": "Bright light in the evening delays the release of "
         "melatonin"},
        [LIGHT],
    ),
    ScriptedFact(
        "exercise",
        {"kind": "attribute", "subject": "exercise", "predicate": "helps", "value": "sleep",
         "anchor": "Regular exercise helps people fall asleep faster"},
        [EXERCISE],
    ),
]  # fmt: skip


def hypothesis(claim: str, evidence) -> dict:
    return {"claim": claim, "stance": "supports", "evidence": evidence, "confidence": 0.7}


def test_the_prefilter_keeps_every_supporting_anchor_and_drops_most_misfits(settings):
    """The measurement behind SUPPORT_SIMILARITY_FLOOR (bench/calibrate_thresholds.py)."""
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    kept = {"supports": 0, "contradicts": 0, "unrelated": 0}
    totals = dict.fromkeys(kept, 0)
    for row in rows:
        anchor = Anchor(start=0, end=len(row["span"]))
        kept[row["label"]] += bool(supporting_anchors(row["claim"], [anchor], row["span"]))
        totals[row["label"]] += 1
    assert kept["supports"] == totals["supports"]  # no supporting anchor is lost
    assert kept["contradicts"] == totals["contradicts"]  # these are the verify job's to judge
    assert kept["unrelated"] <= 0.2 * totals["unrelated"], kept


@pytest.mark.django_db(transaction=True)
def test_demo_failures_are_rejected_and_claims_wait_for_their_verdict(member, node):
    declare_model_class(node, CAPABLE)  # more than a tiny model's handful per job
    model = ScriptedModel(
        facts=SLEEP_GRAPH,
        derive_curie=False,
        derive_extra=[
            hypothesis("Caffeine blocks adenosine receptors.", (0,)),
            hypothesis("{'step':2,", (0,)),
            hypothesis("Caffeine and sleep", (0,)),
            # Evening light, citing the caffeine anchor: misattributed.
            hypothesis("Evening light delays the release of melatonin.", (0,)),
            hypothesis("Bright light in the evening delays melatonin.", (1,)),
            hypothesis("Regular exercise helps people fall asleep faster.", (2,)),
            # Shares the anchor's words but says the opposite: for the verify_support job.
            hypothesis("Regular exercise does not help people fall asleep.", (2,)),
            hypothesis("Bright evening light and caffeine keep the brain awake.", (0, 1)),
        ],
    )
    source = submit_document(SLEEP, SLEEP_TITLE, member)
    produce = scripted(model)
    drain(node, produce, kinds=["extract_graph", "resolve_entities", "derive"])

    reasons = dict(RejectedItem.objects.filter(job__kind="derive").values_list("index", "reason"))
    assert reasons == {1: "markup", 2: "heading", 3: "unsupported_evidence"}
    items = {item.text: item for item in KnowledgeItem.objects.filter(job__source=source)}
    assert len(items) == 5
    assert {item.support for item in items.values()} == {"unverified"}
    assert not visible_items().filter(job__source=source).exists()
    # The analysis waits for the verdicts: the text is still there.
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSING and not source.is_purged
    verify_jobs = Job.objects.filter(source=source, kind="verify_support")
    assert verify_jobs.count() == 5
    both = items["Bright evening light and caffeine keep the brain awake."]
    (payload,) = verify_jobs.filter(pk=both.support_job_id).values_list("payload", flat=True)
    assert [e["span"] for e in payload["evidence"]] == [
        {"$span": [a.start, a.end]} for a in both.anchors.order_by("start")
    ]  # offsets only: the node reads the spans at lease time

    drain(node, produce)
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED and source.is_purged
    for item in items.values():
        item.refresh_from_db()
    opposite = items["Regular exercise does not help people fall asleep."]
    assert (opposite.support, opposite.status) == ("unsupported", "rejected")
    assert opposite.hidden_reason.startswith("verify_support: the evidence is contradicts")
    supported = {text for text, item in items.items() if item.support == "supported"}
    assert supported == {
        "Caffeine blocks adenosine receptors.",
        "Bright light in the evening delays melatonin.",
        "Regular exercise helps people fall asleep faster.",
        "Bright evening light and caffeine keep the brain awake.",
    }
    assert set(visible_items().filter(job__source=source).values_list("text", flat=True)) == (
        supported
    )


@pytest.mark.django_db(transaction=True)
def test_an_item_whose_verification_failed_is_rejected_when_the_analysis_ends(member, node):
    model = ScriptedModel(
        facts=SLEEP_GRAPH,
        derive_curie=False,
        derive_extra=[hypothesis("Caffeine blocks adenosine receptors.", "first")],
    )
    source = submit_document(SLEEP, SLEEP_TITLE, member)
    drain(node, scripted(model), kinds=["extract_graph", "resolve_entities", "derive"])
    Job.objects.filter(source=source, kind="verify_support").update(status=Job.Status.FAILED)
    drain(node, scripted(model))
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED
    (item,) = KnowledgeItem.objects.filter(job__source=source)
    assert (item.support, item.status) == ("unsupported", "rejected")
    assert "never verified" in item.hidden_reason
