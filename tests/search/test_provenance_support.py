"""Layer >= 2 items are supported through their provenance: what they combine must be about
them, and they cite only the anchors of what is."""

from alexandria.knowledge.models import KnowledgeItem
from alexandria.layers.models import MergeCheck, NodeAbstraction
from alexandria.layers.services.abstraction import schedule_abstractions, start_composition
from alexandria.search.selectors import grounding_anchors
from tests.search.test_layers import probe_job, submit

LIGHT_TEXT = "Bright light in the evening delays the release of melatonin."
CAFFEINE_TEXT = "Caffeine blocks adenosine receptors in the brain."


def _layer_one(kb):
    light_source = kb.source("Light and the body clock", LIGHT_TEXT)
    caffeine_source = kb.source("Caffeine", CAFFEINE_TEXT)
    light = kb.item(
        "Evening light delays melatonin release.", anchors=[kb.anchor(light_source, LIGHT_TEXT)]
    )
    caffeine = kb.item(
        "Caffeine blocks adenosine receptors.",
        anchors=[kb.anchor(caffeine_source, CAFFEINE_TEXT)],
    )
    MergeCheck.objects.bulk_create(MergeCheck(item=item) for item in (light, caffeine))
    kb.sync()
    return light, caffeine


def _compose(kb, node, items: list[dict]):
    submit(
        probe_job(node),
        {
            "phase": "probe",
            "useless": False,
            "probes": [
                {"relation": "cause", "text": "Caffeine keeps the brain awake."},
                {"relation": "pro", "text": "Light in the evening shifts sleep later."},
            ],
        },
    )
    compose = start_composition(NodeAbstraction.objects.get(node=node).pk, index=kb.index)
    return submit(compose, {"phase": "compose", "useless": False, "items": items})


def test_a_claim_about_light_cites_only_the_light_anchors(kb, django_capture_on_commit_callbacks):
    light, caffeine = _layer_one(kb)
    assert schedule_abstractions() == 2
    with django_capture_on_commit_callbacks(execute=False):
        report = _compose(
            kb,
            light,
            [
                {
                    "kind": "hypothesis",
                    "text": "Dimming lights at night lets melatonin rise earlier.",
                    "combines": [light.pk, caffeine.pk],  # the caffeine item, wrongly
                    "relation": "consequence",
                    "stance": "supports",
                }
            ],
        )
    assert report.is_valid, report.reasons
    (new,) = KnowledgeItem.objects.filter(layer=2)
    assert new.support == KnowledgeItem.Support.SUPPORTED
    assert list(new.derived_from.all()) == [light]
    (cited,) = grounding_anchors([new.pk])[new.pk]
    assert cited.source.title == "Light and the body clock"


def test_items_combining_nothing_relevant_or_failing_the_gate_are_rejected(
    kb, django_capture_on_commit_callbacks
):
    light, caffeine = _layer_one(kb)
    schedule_abstractions()
    with django_capture_on_commit_callbacks(execute=False):
        report = _compose(
            kb,
            light,
            [
                {
                    "kind": "hypothesis",
                    "text": "Tax revenue funds public libraries in rural towns.",
                    "combines": [caffeine.pk],
                },
                {"kind": "hypothesis", "text": "{'step':2,", "combines": [light.pk]},
                {"kind": "hypothesis", "text": "Light and melatonin", "combines": [light.pk]},
            ],
        )
    assert not report.is_valid
    assert [reason.split(":")[1].strip() for reason in report.reasons[1:]] == [
        "irrelevant_provenance",
        "markup",
        "heading",
    ]
    assert not KnowledgeItem.objects.filter(layer=2).exists()
