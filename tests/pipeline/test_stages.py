"""Stage rules: entity resolution, the copyright gate, reconciliation and retention."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from alexandria.jobs.models import Job, JobResult
from alexandria.jobs.services.lifecycle import cancel_job, create_job
from alexandria.knowledge.models import Anchor, Entity
from alexandria.pipeline.handlers import ProfileHandler
from alexandria.pipeline.models import SourceProfile
from alexandria.pipeline.services.planning import Stage, advance_source
from alexandria.pipeline.services.resolution import apply_decisions, classify_pair
from alexandria.pipeline.tasks import reconcile_pipeline
from alexandria.sources.models import Source
from jobkinds import get_kind
from tests.pipeline.documents import CURIE, CURIE_GRAPH, CURIE_TITLE
from tests.pipeline.driving import drain, run_job, submit_document
from tests.pipeline.scripted import ScriptedFact, ScriptedModel
from tests.support.anchors import anchor_on, assert_anchors_verify_within_limits
from tests.textproc.pdf_factory import text_pdf

pytestmark = pytest.mark.django_db(transaction=True)


def scripted(model: ScriptedModel):
    """A producer answering like the scripted model, without HTTP (for stage tests)."""

    def produce(kind: str, payload: dict) -> dict:
        messages = get_kind(kind).build_messages(payload)
        return json.loads(model({"messages": messages}))

    return produce


def test_incompatible_types_are_never_merged(member):
    source = submit_document(CURIE, CURIE_TITLE, member)
    person = Entity.objects.create(source=source, name="Pierre Curie", type="person")
    law = Entity.objects.create(source=source, name="Curie law", type="law")
    scientist = Entity.objects.create(source=source, name="Curie", type="scientist")
    assert classify_pair(person, law) is None
    assert classify_pair(scientist, person) == "candidate"
    job = create_job(
        "resolve_entities",
        {
            "source_title": CURIE_TITLE,
            "prompt_version": "resolve_entities/1",
            "pairs": [
                {"pair_id": 0, "a": side(person), "b": side(law)},
                {"pair_id": 1, "a": side(scientist), "b": side(person)},
            ],
        },
        source=source,
    )
    # Even when the model says both pairs are the same, only the compatible one is merged.
    apply_decisions(
        job, {"decisions": [{"pair_id": 0, "same": True}, {"pair_id": 1, "same": True}]}
    )
    law.refresh_from_db()
    scientist.refresh_from_db()
    assert law.canonical is None
    assert (
        scientist.canonical == person
        or person.__class__.objects.get(pk=person.pk).canonical == scientist
    )


def side(entity: Entity) -> dict:
    return {
        "entity_id": entity.pk,
        "name": entity.name,
        "type": entity.type,
        "aliases": entity.aliases,
        "quotes": [],
    }


def test_copied_summary_is_rejected_by_the_copyright_gate(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    (job,) = source.jobs.filter(kind="describe")
    copied = "Marie Curie was a physicist and chemist who did pioneering research on radioactivity."
    output = {"genre": "biography", "category": "physics", "keywords": [], "summary": copied}
    result = run_job(node, job, output)
    assert result.status == JobResult.Status.INVALID
    assert "copyright gate" in result.rejection_reasons[0]
    assert not SourceProfile.objects.get(source=source).summary


def test_an_anchored_sentence_is_copied_all_the_same_but_its_fragment_may_be_quoted(member, node):
    # Anchors keep only fragments, so being anchored allows no long quote: the gate stops
    # every run of RETENTION_MAX_RUN_WORDS words, and a quote shorter than that passes.
    source = submit_document(CURIE, CURIE_TITLE, member)
    sentence = (
        "Marie Curie was a physicist and chemist who did pioneering research on radioactivity."
    )
    anchor_on(source, sentence)
    (job,) = source.jobs.filter(kind="describe")

    def summary(text: str) -> dict:
        return {"genre": "b", "category": "c", "keywords": [], "summary": text}

    report = ProfileHandler("describe").validate(job, summary(sentence))
    assert not report.is_valid and "copyright gate" in report.reasons[0]
    quoting = "The text opens: Marie Curie was a physicist and chemist, and goes on from there."
    assert ProfileHandler("describe").validate(job, summary(quoting)).is_valid


def test_reconciliation_finishes_a_source_whose_last_job_failed(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    model = ScriptedModel(facts=CURIE_GRAPH)
    drain(
        node,
        scripted(model),
        kinds=["extract_graph", "resolve_entities", "derive", "verify_support"],
    )
    (reconstruct,) = source.jobs.filter(kind="reconstruct")
    for job in source.jobs.filter(kind__in=["describe", "rate_age"]):
        cancel_job(job, reason="test")
    assert advance_source(source.pk) == Stage.DERIVATION
    # The reconstruct job is dead-lettered (no apply, so nothing advances the source) ...
    Job.objects.filter(pk=reconstruct.pk).update(status=Job.Status.FAILED)
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSING and not source.is_purged
    # ... until the reconciler runs.
    reconcile_pipeline()
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED
    assert source.is_purged
    assert SourceProfile.objects.get(source=source).reconstruction_fidelity is None


def test_advance_is_idempotent(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    drain(node, scripted(ScriptedModel(facts=CURIE_GRAPH)), kinds=["extract_graph"])
    assert advance_source(source.pk) == Stage.RESOLUTION
    jobs = sorted(source.jobs.values_list("pk", "kind"))
    assert [kind for _, kind in jobs].count("resolve_entities") == 1
    for _ in range(3):
        assert advance_source(source.pk) == Stage.RESOLUTION
    assert sorted(source.jobs.values_list("pk", "kind")) == jobs


HTML = b"""<!doctype html><html><head><title>Curie notes</title>
<style>p { color: red }</style><script>var x = "Marie Curie was a spy";</script></head>
<body><h1>Curie notes</h1><p>Marie Curie was a physicist and chemist who did pioneering
research on radioactivity.</p><p>She was born in Warsaw in 1867.</p></body></html>"""


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("curie.html", "text/html", HTML),
        (
            "curie.pdf",
            "application/pdf",
            text_pdf(
                [
                    [
                        "Marie Curie was a physicist and chemist who did pioneering",
                        "research on radioactivity. She was born in Warsaw in 1867.",
                    ]
                ],
                title="Curie notes",
            ),
        ),
    ],
)
def test_uploaded_file_goes_through_the_pipeline(bot_client, node, filename, content_type, data):
    upload = SimpleUploadedFile(filename, data, content_type=content_type)
    reply = bot_client.post("/api/v1/sources", {"file": upload}, format="multipart")
    assert reply.status_code == 201, reply.content
    source = Source.objects.get(pk=reply.json()["source"]["id"])
    assert source.status == Source.Status.ANALYSING
    text = source.text
    assert "spy" not in text and "color" not in text
    facts = [ScriptedFact("physicist", CURIE_GRAPH[0].fact, CURIE_GRAPH[0].entities)]
    drain(node, scripted(ScriptedModel(facts=[*facts, CURIE_GRAPH[1]])))
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED and source.is_purged
    anchors = list(Anchor.objects.filter(source=source).order_by("start"))
    assert [text[a.start : a.end] for a in anchors] == [
        "Marie Curie was a physicist and chemist",
        "She was born in Warsaw in 1867",
    ]
    assert assert_anchors_verify_within_limits(source, text) == 2
