"""Knowledge items with anchors in a real source, and members of chosen reputation."""

import hashlib
import itertools

import pytest

from alexandria.contributors.models import Contributor
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.knowledge.models import KnowledgeItem
from alexandria.sources.models import Source
from tests.support.anchors import anchor_on

SOURCE_TEXT = (
    "The Library of Alexandria was one of the largest libraries of the ancient world. "
    "It was part of the Mouseion, dedicated to the Muses."
)
_ids = itertools.count(1)


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(
        title="Ancient libraries",
        url="https://example.org/libraries",
        sha256=hashlib.sha256(SOURCE_TEXT.encode()).hexdigest(),
        char_count=len(SOURCE_TEXT),
        byte_size=len(SOURCE_TEXT.encode()),
        text=SOURCE_TEXT,
    )


@pytest.fixture
def make_item(source):
    """A pending hypothesis anchored on an exact quote of ``source``."""

    def make(text: str = "", *, quote: str = "one of the largest libraries", author=None, **extra):
        anchor = anchor_on(source, quote)
        item = KnowledgeItem.objects.create(
            kind=extra.pop("kind", KnowledgeItem.Kind.HYPOTHESIS),
            text=text or f"Hypothesis {next(_ids)}: the library was large.",
            author=author,
            **extra,
        )
        item.anchors.add(anchor)
        return item

    return make


@pytest.fixture
def member(db):
    """A member (by Discord id) with a given starting reputation."""

    def make(discord_id: str, reputation: float = 1.0) -> Contributor:
        contributor = contributor_for_discord_user(discord_id, display_name=f"m{discord_id[-3:]}")
        Contributor.objects.filter(pk=contributor.pk).update(reputation=reputation)
        contributor.refresh_from_db()
        return contributor

    return make


@pytest.fixture(autouse=True)
def _review_settings(settings):
    settings.REVIEW_GOLD_RATE = 0.0
    settings.REVIEW_MAX_OPEN_TASKS = 3
    settings.REVIEW_OPEN_TASKS_PER_ITEM = 3
    settings.CONSENSUS_MIN_WEIGHT = 3.0
    settings.CONSENSUS_SHARE = 0.7
    settings.REVIEW_EDIT_MIN_ENDORSEMENTS = 2
    settings.DISCORD_MODERATOR_IDS = []
