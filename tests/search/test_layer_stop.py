"""Stop criteria judged on what a layer produced: judge_usefulness verdicts on the new items."""

import pytest

from alexandria.jobs.handlers import get_handler
from alexandria.jobs.models import Job, JobResult
from alexandria.knowledge.models import KnowledgeItem
from alexandria.layers.models import LayerBuild, MergeCheck, NodeAbstraction, UsefulnessVerdict
from alexandria.layers.services.abstraction import (
    eligible_nodes,
    schedule_abstractions,
    start_composition,
    update_layer_builds,
)
from jobkinds import get_kind
from tests.pipeline.scripted import ScriptedModel, run_with_llm

JUDGE = get_kind("judge_usefulness")
SMOKING = "Smoking causes lung cancer."
COSTS = "Lung cancer treatment is expensive for public health systems."
TAXES = "Tobacco taxes reduce the number of smokers."
USEFUL = "Reducing smoking would lower public health spending."
# Pass the quality gate and the novelty check (switched off in the tests that keep them), but
# say nothing beyond one item they combine: the scripted judge finds them useless.
RESTATED = ["Smoking causes cancer.", "Lung cancer treatment is expensive."]


@pytest.fixture
def layer_one(kb):
    items = [kb.item(SMOKING), kb.item(COSTS), kb.item(TAXES)]
    MergeCheck.objects.bulk_create(MergeCheck(item=item) for item in items)
    kb.sync()
    return items


def submit(job: Job, output: dict):
    handler = get_handler(job.kind)
    assert get_kind(job.kind).output_errors(output) == []
    report = handler.validate(job, output)
    if report.is_valid:
        handler.apply(job, JobResult(job=job, output=output))
    return report


def compose(kb, node, texts: list[str], combines: list[int]) -> NodeAbstraction:
    """Abstract ``node`` into items with these texts, each combining ``combines``."""
    schedule_abstractions()
    run = NodeAbstraction.objects.get(node=node)
    probes = [{"relation": "consequence", "text": "Treating lung cancer costs a lot of money."}]
    submit(run.probe_job, {"phase": "probe", "useless": False, "probes": probes})
    job = start_composition(run.pk, index=kb.index)
    items = [
        {"kind": "hypothesis", "text": text, "combines": combines, "stance": "supports"}
        for text in texts
    ]
    assert submit(job, {"phase": "compose", "useless": False, "items": items}).is_valid
    run.refresh_from_db()
    return run


def judge(fake_openai, run: NodeAbstraction) -> dict:
    """What the scripted judge answers to the run's judge job, through a node's LLM runner."""
    fake_openai.responder = ScriptedModel()
    return run_with_llm(fake_openai.base_url, "judge_usefulness", run.judge_job.payload)


def test_new_items_wait_for_their_verdict_and_useless_ones_are_rejected(
    kb, layer_one, settings, fake_openai
):
    settings.ABSTRACTION_NOVELTY_THRESHOLD = 1.01  # keep the restatement: the judge decides
    smoking, costs, _ = layer_one
    run = compose(kb, smoking, [USEFUL, RESTATED[0]], [smoking.pk, costs.pk])
    useful, restated = KnowledgeItem.objects.filter(layer=2).order_by("pk")

    payload = run.judge_job.payload
    assert JUDGE.input_errors(payload) == []
    assert [item["id"] for item in payload["items"]] == [useful.pk, restated.pk]
    assert payload["items"][0]["combines"] == [
        {"id": smoking.pk, "text": SMOKING},
        {"id": costs.pk, "text": COSTS},
    ]
    # In flight: settled by the merge step, but not abstracted before the verdict.
    MergeCheck.objects.bulk_create([MergeCheck(item=useful), MergeCheck(item=restated)])
    assert not eligible_nodes(2).exists()
    schedule_abstractions()
    assert not NodeAbstraction.objects.filter(layer=2).exists()

    output = judge(fake_openai, run)
    assert [v["useful"] for v in output["verdicts"]] == [True, False]
    assert submit(run.judge_job, output).is_valid

    restated.refresh_from_db()
    assert restated.status == "rejected"
    assert restated.hidden_reason == f"judged useless: It only restates item {smoking.pk}."
    assert list(eligible_nodes(2)) == [useful]
    assert UsefulnessVerdict.objects.get(item=useful).useful is True
    build = LayerBuild.objects.get(layer=2)
    assert (build.items_created, build.judged_useful, build.judged_useless) == (2, 1, 1)
    assert build.status == "building"  # below LAYER_STOP_MIN_JUDGED: too few to judge the layer

    schedule_abstractions()
    assert NodeAbstraction.objects.filter(node=useful).exists()
    assert not NodeAbstraction.objects.filter(node=restated).exists()


def test_a_layer_whose_new_items_are_mostly_useless_stops(kb, layer_one, settings, fake_openai):
    settings.ABSTRACTION_NOVELTY_THRESHOLD = 1.01
    settings.LAYER_STOP_MIN_JUDGED = 3
    smoking, costs, _ = layer_one
    run = compose(kb, smoking, [USEFUL, *RESTATED], [smoking.pk, costs.pk])
    assert submit(run.judge_job, judge(fake_openai, run)).is_valid

    build = LayerBuild.objects.get(layer=2)
    assert build.status == "stopped"
    assert build.stop_reason == "2 of 3 judged new items of layer 2 were judged useless"
    useful = KnowledgeItem.objects.get(layer=2, status="pending")
    MergeCheck.objects.create(item=useful)
    # No further layer is built on it; the nodes below it get no new probes either.
    late = kb.item("Nicotine is addictive.")
    MergeCheck.objects.create(item=late)
    assert schedule_abstractions() == 0
    assert not NodeAbstraction.objects.filter(node__in=[useful, late]).exists()
    assert LayerBuild.objects.get(layer=2).status == "stopped"


def test_a_layer_of_restatements_stops(kb, layer_one, settings):
    settings.LAYER_STOP_MIN_JUDGED = 3
    smoking, costs, _ = layer_one
    run = compose(kb, smoking, [USEFUL, SMOKING, COSTS], [smoking.pk, costs.pk])
    assert (run.items_created, run.dropped_not_novel) == (1, 2)
    build = LayerBuild.objects.get(layer=2)
    assert (build.items_created, build.dropped_not_novel) == (1, 2)
    assert build.status == "stopped"
    assert "2 of 3 new items proposed for layer 2 were too similar" in build.stop_reason


def test_the_layers_api_shows_the_counts(kb, layer_one, settings, fake_openai, bot_client):
    settings.ABSTRACTION_NOVELTY_THRESHOLD = 1.01
    smoking, costs, _ = layer_one
    run = compose(kb, smoking, [USEFUL, RESTATED[1]], [smoking.pk, costs.pk])
    submit(run.judge_job, judge(fake_openai, run))
    response = bot_client.get("/api/v1/layers")
    assert response.status_code == 200, response.content
    second = response.json()["layers"][1]
    assert second["layer"] == 2
    counts = ("new_items", "judged_useful", "judged_useless", "dropped_not_novel")
    assert [second[key] for key in counts] == [2, 1, 1, 0]


def test_the_next_layer_waits_for_outstanding_verdicts_only(kb, layer_one, settings):
    settings.ABSTRACTION_NOVELTY_THRESHOLD = 1.01
    smoking, costs, _ = layer_one
    run = compose(kb, smoking, [USEFUL], [smoking.pk, costs.pk])
    above = LayerBuild.objects.create(layer=3)
    update_layer_builds()
    above.refresh_from_db()
    assert above.status == "building"  # the new layer-2 item may still become a node
    Job.objects.filter(pk=run.judge_job_id).update(status=Job.Status.FAILED)
    update_layer_builds()
    above.refresh_from_db()
    assert above.status == "complete"  # never judged, so never abstracted
    MergeCheck.objects.create(item=KnowledgeItem.objects.get(layer=2))
    assert not eligible_nodes(2).exists()


def test_verdicts_must_cover_exactly_the_judged_items(kb, layer_one, settings):
    settings.ABSTRACTION_NOVELTY_THRESHOLD = 1.01
    smoking, costs, _ = layer_one
    run = compose(kb, smoking, [USEFUL, RESTATED[1]], [smoking.pk, costs.pk])
    first, second = (item["id"] for item in run.judge_job.payload["items"])
    verdict = {"useful": True, "reason": "ok"}
    report = submit(
        run.judge_job, {"verdicts": [{"id": first, **verdict}, {"id": 987654, **verdict}]}
    )
    assert not report.is_valid
    assert report.reasons == [
        "verdicts on items that were not judged: [987654]",
        f"no verdict on items [{second}]",
    ]
    assert UsefulnessVerdict.objects.filter(useful__isnull=True).count() == 2


def test_replicated_judgements_agree_on_flags_not_reasons():
    handler = get_handler("judge_usefulness")

    def output(*flags):
        return {
            "verdicts": [
                {"id": n, "useful": flag, "reason": f"reason {n} {flag}"}
                for n, flag in enumerate(flags, 1)
            ]
        }

    assert handler.agree(output(True, False, True), output(True, False, True))
    assert handler.agree(output(True, False, True), output(True, False, False))
    assert not handler.agree(output(True, False), output(True, True))
    assert not handler.agree(output(True, False, True), output(False, True, True))
