"""A small public knowledge base: accepted, pending, hidden and unsupported items over rated
sources, indexed with the real (offline) default embedder."""

from dataclasses import dataclass

import pytest

from alexandria.knowledge.models import KnowledgeItem
from alexandria.pipeline.models import SourceProfile
from tests.search.conftest import Kb, search_index  # noqa: F401
from tests.support.figures import tiny_clip  # noqa: F401

SLEEP = (
    "Regular exercise improves sleep quality in adults. Caffeine in the evening delays "
    "sleep onset. Bright screens at night suppress melatonin."
)
ADULT = "Heavy drinking before bed fragments sleep in the second half of the night."


@dataclass
class Store:
    kb: Kb
    source: object
    adult_source: object
    accepted: KnowledgeItem
    contra: KnowledgeItem
    pending: KnowledgeItem
    hidden: KnowledgeItem
    unsupported: KnowledgeItem
    adult: KnowledgeItem
    abstraction: KnowledgeItem


@pytest.fixture
def store(db, search_index) -> Store:  # noqa: F811
    kb = Kb(search_index)
    source = kb.source("Sleep and habits", SLEEP, url="https://example.org/sleep", age_rating=0)
    SourceProfile.objects.filter(source=source).update(
        genre="health", keywords=["sleep", "exercise"], summary="How habits change sleep."
    )
    source.language = "en"
    source.save(update_fields=["language"])
    adult_source = kb.source("Drinking", ADULT, age_rating=18)
    exercise = kb.anchor(source, "Regular exercise improves sleep quality")
    caffeine = kb.anchor(source, "Caffeine in the evening delays sleep onset")
    screens = kb.anchor(source, "Bright screens at night suppress melatonin")
    accepted = kb.item(
        "Regular exercise improves sleep quality.", anchors=[exercise], status="accepted"
    )
    contra = kb.item(
        "Regular exercise does not improve sleep quality.", anchors=[exercise], status="accepted"
    )
    pending = kb.item("Caffeine in the evening delays sleep.", anchors=[caffeine])
    hidden = kb.item(
        "Screens at night secretly improve sleep quality.", anchors=[screens], status="hidden"
    )
    unsupported = kb.item(
        "Exercise at night ruins sleep quality.", anchors=[exercise], status="accepted"
    )
    unsupported.support = KnowledgeItem.Support.UNSUPPORTED
    unsupported.save(update_fields=["support"])
    adult = kb.item(
        "Heavy drinking before bed fragments sleep quality.",
        anchors=[kb.anchor(adult_source, "Heavy drinking before bed fragments sleep")],
        status="accepted",
    )
    abstraction = kb.item(
        "Daily habits shape sleep quality.",
        layer=2,
        status="accepted",
        derived_from=[accepted, pending],
    )
    kb.sync()
    return Store(
        kb,
        source,
        adult_source,
        accepted,
        contra,
        pending,
        hidden,
        unsupported,
        adult,
        abstraction,
    )
