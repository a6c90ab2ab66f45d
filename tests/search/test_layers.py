"""Abstraction layers: probe → neighbours → compose, with the stop criteria, and progress."""

import pytest

from alexandria.jobs.handlers import get_handler
from alexandria.jobs.models import Job, JobResult
from alexandria.knowledge.models import KnowledgeItem
from alexandria.layers.models import LayerBuild, MergeCheck, NodeAbstraction
from alexandria.layers.services.abstraction import schedule_abstractions, start_composition
from jobkinds import get_kind

ABSTRACT = get_kind("abstract")


@pytest.fixture
def layer_one(kb):
    items = [
        kb.item("Smoking causes lung cancer."),
        kb.item("Lung cancer treatment is expensive for public health systems."),
        kb.item("Tobacco taxes reduce the number of smokers."),
    ]
    MergeCheck.objects.bulk_create(MergeCheck(item=item) for item in items)
    kb.sync()
    return items


def submit(job: Job, output: dict):
    assert ABSTRACT.output_errors(output) == []
    handler = get_handler("abstract")
    report = handler.validate(job, output)
    if report.is_valid:
        handler.apply(job, JobResult(job=job, output=output))
    return report


def probe_job(node) -> Job:
    return NodeAbstraction.objects.get(node=node).probe_job


def test_a_node_climbs_one_layer(kb, layer_one, django_capture_on_commit_callbacks):
    smoking, costs, taxes = layer_one
    assert schedule_abstractions() == 3
    job = probe_job(smoking)
    assert job.payload["phase"] == "probe" and ABSTRACT.input_errors(job.payload) == []
    assert LayerBuild.objects.get(layer=2).status == "building"

    probes = {
        "phase": "probe",
        "useless": False,
        "probes": [
            {"relation": "consequence", "text": "Treating lung cancer costs a lot of money."},
            {"relation": "con", "text": "Higher taxes on tobacco lower smoking."},
        ],
    }
    with django_capture_on_commit_callbacks(execute=False):
        submit(job, probes)
    run = NodeAbstraction.objects.get(node=smoking)
    assert run.phase == "retrieving"

    compose = start_composition(run.pk, index=kb.index)
    assert compose.payload["phase"] == "compose" and ABSTRACT.input_errors(compose.payload) == []
    neighbour_ids = {n["id"] for n in compose.payload["neighbours"]}
    assert {costs.pk, taxes.pk} <= neighbour_ids and smoking.pk not in neighbour_ids

    report = submit(
        compose,
        {
            "phase": "compose",
            "useless": False,
            "items": [
                {
                    "kind": "hypothesis",
                    "text": "Reducing smoking would lower public health spending.",
                    "combines": [smoking.pk, costs.pk],
                    "relation": "consequence",
                    "stance": "supports",
                },
                {
                    "kind": "instruction",
                    "text": "Tax tobacco to cut cancer costs.",
                    "combines": [smoking.pk, taxes.pk, costs.pk],
                    "relation": "con",
                    "steps": ["Raise tobacco taxes.", "Fund cancer prevention with them."],
                },
                {
                    "kind": "hypothesis",
                    "text": "Smoking causes lung cancer.",  # restates its input: not novel
                    "combines": [smoking.pk],
                },
            ],
        },
    )
    assert report.is_valid and report.kept_items == 3
    layer_two = KnowledgeItem.objects.filter(layer=2).order_by("pk")
    assert [item.kind for item in layer_two] == ["hypothesis", "instruction"]
    assert set(layer_two[0].derived_from.all()) == {smoking, costs}
    assert layer_two[1].details["steps"] == [
        "Raise tobacco taxes.",
        "Fund cancer prevention with them.",
    ]
    run.refresh_from_db()
    assert (run.phase, run.items_created, run.dropped_not_novel) == ("done", 2, 1)


def test_new_layer_items_are_indexed_once_stored(
    kb, layer_one, settings, django_capture_on_commit_callbacks
):
    smoking, costs, _ = layer_one
    schedule_abstractions()
    probes = [{"relation": "consequence", "text": "Treating lung cancer costs a lot of money."}]
    submit(probe_job(smoking), {"phase": "probe", "useless": False, "probes": probes})
    compose = start_composition(NodeAbstraction.objects.get(node=smoking).pk, index=kb.index)
    settings.SEARCH_INDEX_ON_COMMIT = True
    with django_capture_on_commit_callbacks(execute=True):
        submit(
            compose,
            {
                "phase": "compose",
                "useless": False,
                "items": [
                    {
                        "kind": "hypothesis",
                        "text": "Reducing smoking would lower public health spending.",
                        "combines": [smoking.pk, costs.pk],
                        "relation": "consequence",
                        "stance": "supports",
                    }
                ],
            },
        )
    [new_item] = KnowledgeItem.objects.filter(layer=2)
    assert kb.index.count(2) == 1 and new_item.pk in kb.index.vectors(2, [new_item.pk])


def test_useless_nodes_end_their_branch(kb, layer_one):
    schedule_abstractions()
    for node in layer_one:
        submit(probe_job(node), {"phase": "probe", "useless": True, "probes": []})
    assert set(NodeAbstraction.objects.values_list("phase", flat=True)) == {"useless"}
    schedule_abstractions()
    build = LayerBuild.objects.get(layer=2)
    assert build.status == "complete"
    assert "no new items" in build.stop_reason


def test_compositions_citing_unknown_items_are_rejected(kb, layer_one):
    smoking = layer_one[0]
    schedule_abstractions()
    submit(
        probe_job(smoking),
        {
            "phase": "probe",
            "useless": False,
            "probes": [{"relation": "cause", "text": "Why do people smoke?"}],
        },
    )
    compose = start_composition(NodeAbstraction.objects.get(node=smoking).pk, index=kb.index)

    report = submit(
        compose,
        {
            "phase": "compose",
            "useless": False,
            "items": [{"kind": "hypothesis", "text": "Made up.", "combines": [987654]}],
        },
    )

    assert not report.is_valid and "unknown ids" in report.reasons[1]
    assert not KnowledgeItem.objects.filter(layer=2).exists()


def test_max_layers_stops_the_climb(kb, layer_one, settings):
    settings.ABSTRACTION_MAX_LAYERS = 1
    assert schedule_abstractions() == 0
    settings.ABSTRACTION_MAX_LAYERS = 2
    top = kb.item("A layer two claim about smoking and costs.", layer=2)
    MergeCheck.objects.create(item=top)
    assert schedule_abstractions() == 3  # the layer-1 nodes only: layer 3 would exceed the max
    assert not NodeAbstraction.objects.filter(node=top).exists()


def test_replicated_results_agree_on_decisions_not_wording():
    handler = get_handler("abstract")
    a = {
        "phase": "compose",
        "useless": False,
        "items": [{"kind": "hypothesis", "text": "x", "combines": [1, 2]}],
    }
    b = {
        "phase": "compose",
        "useless": False,
        "items": [{"kind": "hypothesis", "text": "y", "combines": [1, 2, 3]}],
    }
    c = {
        "phase": "compose",
        "useless": False,
        "items": [{"kind": "hypothesis", "text": "x", "combines": [7]}],
    }
    assert handler.agree(a, b) and not handler.agree(a, c)
    assert not handler.agree(
        {"phase": "probe", "useless": True, "probes": []},
        {"phase": "probe", "useless": False, "probes": []},
    )


def test_layers_api_shows_progress(kb, layer_one, bot_client):
    schedule_abstractions()
    response = bot_client.get("/api/v1/layers")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["max_layers"] == 3
    first, second = body["layers"]
    assert first["layer"] == 1 and first["items"] == 3 and first["awaiting_merge_check"] == 0
    assert first["pending_jobs"] == {"verify_merge": 0, "abstract": 3}
    assert second["layer"] == 2 and second["build_status"] == "building"
