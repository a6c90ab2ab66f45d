"""Gold items, edit proposals, reports for moderators and moderation through the bot."""

import pytest

from alexandria.contributors.models import Contributor
from alexandria.knowledge.models import KnowledgeItem
from alexandria.reviews.models import EditProposal, Report
from alexandria.reviews.selectors import visible_items
from alexandria.reviews.services import accept_edit, plant_gold_item
from tests.reviews.test_consensus import ALICE, BOB, CAROL, DAVE, answer, next_task, review

MOD = "300000000000000001"


@pytest.fixture
def gold(make_item):
    anchor = make_item().anchors.get()
    KnowledgeItem.objects.all().delete()
    return plant_gold_item(
        text="The Library of Alexandria was built in 1990.",
        kind=KnowledgeItem.Kind.HYPOTHESIS,
        expected_verdict="not_supported",
        anchors=[anchor],
    )


@pytest.mark.django_db
def test_gold_answers_move_reputation_at_once_and_never_settle(
    bot_client_for, make_item, gold, settings, member
):
    settings.REVIEW_GOLD_RATE = 1.0
    real = make_item()
    member(ALICE, 1.0)
    member(BOB, 1.0)
    alice_task = next_task(bot_client_for(ALICE))
    assert alice_task["item"]["id"] == gold.item_id
    assert "status" not in alice_task["item"]
    assert answer(bot_client_for(ALICE), alice_task["id"], "supported").json()["settled"] is None
    assert Contributor.objects.get(discord_id=ALICE).reputation == pytest.approx(0.9)

    bob = bot_client_for(BOB)
    bob_task = next_task(bob)
    assert bob_task["item"]["id"] == gold.item_id
    answer(bob, bob_task["id"], "not_supported")
    ledger = bob.get("/api/v1/me/reputation").json()
    assert ledger["reputation"] == pytest.approx(1.1)
    assert ledger["events"][0]["reason"] == "Answered a calibration statement correctly."
    assert ledger["events"][0]["item_id"] is None
    # Once answered, gold is not served again: the real item comes next.
    assert next_task(bob)["item"]["id"] == real.pk

    for discord_id in (CAROL, DAVE, "200000000000000009"):
        client = bot_client_for(discord_id)
        answer(client, next_task(client)["id"], "not_supported")
    gold.item.refresh_from_db()
    assert gold.item.status == KnowledgeItem.Status.HIDDEN
    assert not hasattr(gold.item, "settlement")
    assert gold.item not in visible_items()


@pytest.mark.django_db
def test_gold_alone_is_never_served(bot_client_for, gold, settings):
    settings.REVIEW_GOLD_RATE = 1.0
    assert next_task(bot_client_for(ALICE)) is None


@pytest.mark.django_db
def test_endorsed_edit_becomes_a_new_version_when_the_item_is_accepted(
    bot_client_for, make_item, member
):
    for discord_id in (ALICE, BOB, CAROL):
        member(discord_id, 1.0)
    item = make_item("The library is big.")
    better = "The Library of Alexandria was one of the largest libraries of the ancient world."
    first = review(bot_client_for(ALICE), "supported", proposed_text=better)
    proposal = EditProposal.objects.get(pk=first["edit_proposal_id"])
    task = next_task(bot_client_for(BOB))
    assert task["edit_proposals"] == [{"id": proposal.pk, "text": better, "endorsements": 0}]
    # Same words, other spacing: an endorsement, not a second proposal.
    second = answer(bot_client_for(BOB), task["id"], "unclear", proposed_text=f"  {better}\n")
    assert second.json()["edit_proposal_id"] == proposal.pk
    third = review(bot_client_for(CAROL), "supported", proposed_text=better)
    assert third["settled"] is None
    assert review(bot_client_for(DAVE), "supported")["settled"] == "accepted"

    proposal.refresh_from_db()
    assert proposal.status == EditProposal.Status.ACCEPTED
    new_version = proposal.new_version
    assert new_version.text == better
    assert new_version.previous_version_id == item.pk
    assert new_version.status == KnowledgeItem.Status.ACCEPTED
    assert new_version.author.discord_id == ALICE
    assert list(new_version.anchors.all()) == list(item.anchors.all())
    item.refresh_from_db()
    assert item.status == KnowledgeItem.Status.HIDDEN
    assert item.hidden_reason == "superseded by edit"
    assert set(visible_items()) == {new_version}


@pytest.mark.django_db
def test_edit_without_enough_endorsements_waits_for_staff(bot_client_for, make_item):
    item = make_item("The library is big.")
    result = review(bot_client_for(ALICE), "supported", proposed_text="It was very large.")
    for discord_id in (BOB, CAROL):
        review(bot_client_for(discord_id), "supported")
    item.refresh_from_db()
    assert item.status == KnowledgeItem.Status.ACCEPTED
    proposal = EditProposal.objects.get(pk=result["edit_proposal_id"])
    assert proposal.status == EditProposal.Status.OPEN

    new_version = accept_edit(proposal)
    assert new_version.previous_version_id == item.pk
    assert new_version.status == KnowledgeItem.Status.ACCEPTED
    item.refresh_from_db()
    assert item.hidden_reason == "superseded by edit"


@pytest.mark.django_db
def test_reports_reach_the_bot_once(bot_client_for, make_item, staff_client, settings):
    settings.PUBLIC_BASE_URL = "https://alexandria.example"
    item = make_item()
    alice = bot_client_for(ALICE)
    result = review(alice, "report", comment="This is spam.")
    report = Report.objects.get(pk=result["report_id"])

    bot = bot_client_for(MOD, "relay")
    listed = bot.get("/api/v1/reports", {"after": 0, "unrelayed": "true"}).json()["results"]
    assert [entry["id"] for entry in listed] == [report.pk]
    assert listed[0]["comment"] == "This is spam."
    assert listed[0]["reporter_discord_id"] == ALICE
    assert listed[0]["admin_url"] == (
        f"https://alexandria.example/admin/knowledge/knowledgeitem/{item.pk}/change/"
    )
    assert bot.post(f"/api/v1/reports/{report.pk}/relayed").status_code == 200
    assert bot.get("/api/v1/reports", {"unrelayed": "true"}).json()["results"] == []
    assert bot.get("/api/v1/reports", {"after": report.pk}).json()["results"] == []
    assert bot.get("/api/v1/reports", {"after": "x"}).status_code == 400
    # Only the bot service relays reports.
    assert staff_client.get("/api/v1/reports").status_code == 403


@pytest.mark.django_db
def test_moderators_hide_items_and_ban_members(bot_client_for, make_item, settings):
    item = make_item()
    plain = bot_client_for(BOB)
    refused = plain.post(f"/api/v1/mod/items/{item.pk}/hide", {"reason": "spam"}, format="json")
    assert refused.status_code == 403

    settings.DISCORD_MODERATOR_IDS = [MOD]
    mod = bot_client_for(MOD, "mod")
    hidden = mod.post(f"/api/v1/mod/items/{item.pk}/hide", {"reason": "spam"}, format="json")
    assert hidden.status_code == 200, hidden.json()
    assert hidden.json()["changed"] is True
    assert hidden.json()["hidden_reason"].startswith("spam")
    assert item not in visible_items()
    again = mod.post(f"/api/v1/mod/items/{item.pk}/hide", {"reason": "spam"}, format="json")
    assert again.json()["changed"] is False
    assert mod.post(
        "/api/v1/mod/items/999999/hide", {"reason": "x"}, format="json"
    ).status_code == (404)

    banned = mod.post(f"/api/v1/mod/members/{BOB}/ban", {"reason": "abuse"}, format="json")
    assert banned.status_code == 200
    assert banned.json()["is_banned"] is True
    assert plain.get("/api/v1/reviews/next").status_code == 403
    assert mod.post("/api/v1/mod/members/12/ban", {"reason": "x"}, format="json").status_code == 400
    assert mod.post(
        f"/api/v1/mod/members/{MOD}/ban", {"reason": "x"}, format="json"
    ).status_code == (403)
    assert mod.post(f"/api/v1/mod/members/{ALICE}/ban", {}, format="json").status_code == 400
