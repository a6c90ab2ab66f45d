"""The bot's API client and cogs against the REAL backend over HTTP (pytest-django live_server).

Runs on PostgreSQL when DATABASE_URL points there.
"""

import hashlib

import pytest
from django.conf import settings as django_settings

from alexandria.contributors.models import Contributor
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.pipeline.models import SourceProfile
from alexandria.sources.models import Source
from bot.client import Actor, AlexandriaClient, Conflict, Forbidden
from bot.cogs.ask import AskCog
from bot.cogs.review import ReviewButton, ReviewCog
from bot.cogs.volunteer import capabilities
from tests.bot.conftest import make_interaction, sent_text
from tests.conftest import BOT_TOKEN

TEXT = "The Library of Alexandria was one of the largest libraries of the ancient world."
MEMBERS = [Actor(410000000000000000 + n, f"reviewer {n}") for n in range(1, 5)]


@pytest.fixture
def live_api(live_server, run, settings):
    settings.REVIEW_GOLD_RATE = 0.0
    settings.CONSENSUS_MIN_WEIGHT = 3.0
    settings.CONSENSUS_SHARE = 0.7
    client = AlexandriaClient(live_server.url, BOT_TOKEN, timeout=30)
    yield client
    run(client.aclose())


@pytest.fixture
def pending_item(transactional_db) -> KnowledgeItem:
    source = Source.objects.create(
        title="Ancient libraries",
        url="https://example.org/libraries",
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
        char_count=len(TEXT),
        byte_size=len(TEXT),
    )
    quote = "one of the largest libraries"
    start = TEXT.index(quote)
    anchor = Anchor.objects.create(
        source=source,
        start=start,
        end=start + len(quote),
        span_sha256=hashlib.sha256(quote.encode()).hexdigest(),
        text_start=quote,
    )
    item = KnowledgeItem.objects.create(kind="hypothesis", text="The library was very large.")
    item.anchors.add(anchor)
    return item


def test_submit_and_follow_a_text(live_api, run, transactional_db):
    actor = MEMBERS[0]
    result = run(live_api.submit_text(actor, TEXT, title="Libraries", url="https://example.org/l"))
    assert result["duplicate"] is False
    source_id = result["source"]["id"]
    again = run(live_api.submit_text(actor, TEXT + "\n"))
    assert again["duplicate"] is True
    assert again["source"]["id"] == source_id
    # Another member is told the text is known, not whose source it is (issue 21).
    with pytest.raises(Conflict, match="another member"):
        run(live_api.submit_text(MEMBERS[1], TEXT + "\n"))
    status = run(live_api.source(actor, source_id))
    assert status["id"] == source_id
    assert status["title"] == "Libraries"
    upload = run(
        live_api.submit_file(
            actor,
            filename="notes.md",
            content=b"# Notes\n\nA different text about scrolls.",
            content_type="text/markdown",
        )
    )
    assert upload["source"]["format"] == "markdown"


def test_review_round_trip_reaches_consensus(live_api, run, pending_item):
    for actor in MEMBERS[1:]:
        contributor_for_discord_user(str(actor.id), display_name=actor.name)
    Contributor.objects.filter(discord_id=str(MEMBERS[1].id)).update(reputation=2.0)

    # The first vote goes through the cog and its persistent button, like a member would.
    cog = ReviewCog(None, live_api)
    interaction = make_interaction(MEMBERS[1].id, api=live_api)
    interaction.user.display_name = MEMBERS[1].name
    run(cog.review.callback(cog, interaction))
    view = interaction.followup.send.await_args.kwargs["view"]
    [supported] = [c for c in view.children if c.custom_id.startswith("review:supported:")]
    match = ReviewButton.__discord_ui_compiled_template__.fullmatch(supported.custom_id)
    button = run(ReviewButton.from_custom_id(interaction, supported, match))
    pressed = make_interaction(MEMBERS[1].id, api=live_api)
    run(button.callback(pressed))
    assert "Recorded" in sent_text(pressed)

    task = run(live_api.next_review(MEMBERS[2]))
    assert task["item"]["id"] == pending_item.pk
    assert task["anchors"][0]["fragment"] == "one of the largest libraries"
    result = run(live_api.answer_review(MEMBERS[2], task["id"], "supported"))
    assert result["settled"] == "accepted"  # 2.0 + 1.0 >= 3.0, share 1.0
    with pytest.raises(Conflict):
        run(live_api.answer_review(MEMBERS[2], task["id"], "not_supported"))
    assert run(live_api.next_review(MEMBERS[3])) is None
    ledger = run(live_api.my_reputation(MEMBERS[2]))
    assert ledger["reputation"] == pytest.approx(1.1)
    pending_item.refresh_from_db()
    assert pending_item.status == KnowledgeItem.Status.ACCEPTED


def test_banned_member_is_refused(live_api, run, transactional_db):
    contributor = contributor_for_discord_user(str(MEMBERS[0].id))
    Contributor.objects.filter(pk=contributor.pk).update(is_banned=True)
    with pytest.raises(Forbidden) as caught:
        run(live_api.next_review(MEMBERS[0]))
    assert caught.value.banned


def test_volunteer_registration(live_api, run, transactional_db):
    actor = MEMBERS[0]
    node = run(
        live_api.register_node(actor, name="desk", capabilities=capabilities("llm", "qwen", "", 0))
    )
    assert node["token"]
    assert node["start_command"].endswith(f"--token {node['token']}")
    nodes = run(live_api.nodes(actor))
    assert [entry["name"] for entry in nodes] == ["desk"]
    assert "token" not in nodes[0]


@pytest.mark.skipif(
    "alexandria.search" not in django_settings.INSTALLED_APPS,
    reason="the /api/v1/ask endpoint (alexandria.search) is not installed yet",
)
def test_ask_answers_with_anchored_sources(live_api, run, pending_item, settings):
    settings.SEARCH_INDEX_ON_COMMIT = True
    # Accepted and rated for all ages, then re-indexed as the services that write items ask.
    pending_item.status = KnowledgeItem.Status.ACCEPTED
    pending_item.save()
    SourceProfile.objects.create(source=pending_item.anchors.get().source, age_rating=0)
    reindex_items_after_commit([pending_item.pk])
    answer = run(live_api.ask(MEMBERS[0], "largest library", min_status="accepted"))
    [result] = answer["results"]
    assert result["item"]["id"] == pending_item.pk
    [source] = result["sources"]
    assert (source["start"], source["end"]) == (30, 58)
    assert source["fragment"] == "one of the largest libraries"
    assert source["span_sha256"] == hashlib.sha256(b"one of the largest libraries").hexdigest()
    assert source["source_sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()
    assert source["link"] == (
        "https://example.org/libraries#:~:text=one%20of%20the%20largest%20libraries"
    )
    # The same answer through the cog: one page, with the exact position.
    cog = AskCog(None, live_api)
    interaction = make_interaction(MEMBERS[0].id)
    run(cog.ask.callback(cog, interaction, query="largest library"))
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert "chars 30\N{EN DASH}58" in embed.fields[-1].name
    assert source["span_sha256"] in embed.fields[-1].value
    assert source["link"] in embed.fields[-1].value
