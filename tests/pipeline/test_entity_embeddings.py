"""Embedding candidates in entity resolution: meaning-alike names go to the LLM, never merge alone.

Uses the real offline default embedder, so the similarities are the ones production sees.
"""

import pytest

from alexandria.embeddings import EmbedderUnavailableError
from alexandria.jobs.models import Job
from alexandria.knowledge.models import Entity
from alexandria.pipeline.services import resolution
from alexandria.pipeline.services.resolution import (
    apply_decisions,
    classify_pair,
    resolve_source_entities,
)
from tests.pipeline.documents import CURIE, CURIE_TITLE
from tests.pipeline.driving import submit_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(member):
    return submit_document(CURIE, CURIE_TITLE, member)


def asked_pairs(source) -> list[frozenset[str]]:
    """The entity-name pairs the source's resolve_entities jobs ask about."""
    return [
        frozenset((pair["a"]["name"], pair["b"]["name"]))
        for job in Job.objects.filter(source=source, kind="resolve_entities").order_by("pk")
        for pair in job.payload["pairs"]
    ]


def merged(a: Entity, b: Entity) -> bool:
    """Whether one of the two entities now resolves to the other."""
    a.refresh_from_db()
    b.refresh_from_db()
    return a.canonical_id == b.pk or b.canonical_id == a.pk


def test_meaning_alike_names_of_compatible_types_are_verification_candidates(source):
    usa = Entity.objects.create(source=source, name="USA", type="country")
    united_states = Entity.objects.create(source=source, name="United States", type="place")
    Entity.objects.create(source=source, name="radium", type="concept")
    assert classify_pair(usa, united_states) is None  # lexically unrelated

    resolve_source_entities(source)

    assert asked_pairs(source) == [frozenset({"USA", "United States"})]
    assert not merged(usa, united_states)


def test_threshold_is_configurable(source, settings):
    lab = Entity.objects.create(source=source, name="Curie lab", type="organization")
    laboratory = Entity.objects.create(
        source=source, name="the Curie couple's laboratory", type="organization"
    )
    assert classify_pair(lab, laboratory) is None
    settings.ENTITY_EMBEDDING_THRESHOLD = 0.95
    resolve_source_entities(source)
    assert asked_pairs(source) == []

    settings.ENTITY_EMBEDDING_THRESHOLD = 0.8
    resolve_source_entities(source)
    assert asked_pairs(source) == [frozenset({"Curie lab", "the Curie couple's laboratory"})]


def test_incompatible_types_never_pair_however_similar(source, settings):
    # A threshold every pair of names passes: only the type families keep these apart.
    settings.ENTITY_EMBEDDING_THRESHOLD = -1.0
    Entity.objects.create(source=source, name="USA", type="country")
    Entity.objects.create(source=source, name="United States", type="organization")
    Entity.objects.create(source=source, name="Marie Curie", type="person")
    Entity.objects.create(source=source, name="Curie's law", type="law")

    resolve_source_entities(source)

    assert asked_pairs(source) == []


def test_each_pair_of_groups_is_asked_once_and_identical_names_merge(source, settings):
    settings.ENTITY_EMBEDDING_THRESHOLD = -1.0
    Entity.objects.create(source=source, name="Pierre Curie", type="person")
    Entity.objects.create(source=source, name="Curie", type="scientist")  # lexical candidate
    becquerel = Entity.objects.create(source=source, name="Becquerel", type="person")
    dr_becquerel = Entity.objects.create(source=source, name="Dr Becquerel", type="scientist")

    resolve_source_entities(source)

    assert merged(becquerel, dr_becquerel)
    asked = asked_pairs(source)
    assert frozenset({"Pierre Curie", "Curie"}) in asked
    assert frozenset({"Becquerel", "Dr Becquerel"}) not in asked
    assert len(asked) == len(set(asked)) == 3  # three groups, three questions


def test_embedding_similarity_alone_never_merges_without_the_llms_yes(source):
    usa = Entity.objects.create(source=source, name="USA", type="country")
    united_states = Entity.objects.create(source=source, name="United States", type="place")
    (job,) = resolve_source_entities(source)
    (pair,) = job.payload["pairs"]

    apply_decisions(job, {"decisions": [{"pair_id": pair["pair_id"], "same": False}]})
    assert not merged(usa, united_states)

    apply_decisions(job, {"decisions": [{"pair_id": pair["pair_id"], "same": True}]})
    assert merged(usa, united_states)


def test_without_an_embedder_the_lexical_candidates_stand_alone(source, monkeypatch):
    def unavailable(name=None):
        raise EmbedderUnavailableError("sentence-transformers is not installed")

    monkeypatch.setattr(resolution, "get_embedder", unavailable)
    Entity.objects.create(source=source, name="USA", type="country")
    Entity.objects.create(source=source, name="United States", type="place")
    Entity.objects.create(source=source, name="Pierre Curie", type="person")
    Entity.objects.create(source=source, name="Curie", type="scientist")

    resolve_source_entities(source)

    assert asked_pairs(source) == [frozenset({"Pierre Curie", "Curie"})]
