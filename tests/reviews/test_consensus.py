"""Review tasks and weighted consensus, driven through the API as the bot drives it."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.knowledge.models import KnowledgeItem, Review
from alexandria.reviews.models import ReputationEvent, ReviewTask, Settlement
from alexandria.reviews.selectors import visible_items

ALICE, BOB, CAROL, DAVE, ERIN = (f"20000000000000000{n}" for n in range(1, 6))


def next_task(client) -> dict | None:
    response = client.get("/api/v1/reviews/next")
    assert response.status_code == 200, response.json()
    return response.json()["task"]


def answer(client, task_id: int, verdict: str, **extra):
    return client.post(
        f"/api/v1/reviews/tasks/{task_id}/answer", {"verdict": verdict, **extra}, format="json"
    )


def review(client, verdict: str, **extra) -> dict:
    task = next_task(client)
    assert task is not None
    response = answer(client, task["id"], verdict, **extra)
    assert response.status_code == 200, response.json()
    return response.json()


def reputation(discord_id: str) -> float:
    return Contributor.objects.get(discord_id=discord_id).reputation


@pytest.mark.django_db
def test_next_serves_item_with_anchors_and_sources(bot_client_for, make_item, source):
    item = make_item("The Library of Alexandria was large.")
    task = next_task(bot_client_for(ALICE))
    assert task["item"] == {
        "id": item.pk,
        "kind": "hypothesis",
        "layer": 1,
        "text": "The Library of Alexandria was large.",
        "details": {},
    }
    assert task["resumed"] is False
    [anchor] = task["anchors"]
    quote = "one of the largest libraries"
    start = source.text.index(quote)
    assert anchor == {
        "source_id": source.pk,
        "start": start,
        "end": start + len(quote),
        "span_sha256": hashlib.sha256(quote.encode()).hexdigest(),
        "source_sha256": source.sha256,
        "text_start": quote,
        "text_end": "",
        "fragment": quote,
        "link": "https://example.org/libraries#:~:text=one%20of%20the%20largest%20libraries",
    }
    assert task["sources"] == [
        {"source_id": source.pk, "title": "Ancient libraries", "url": source.url}
    ]


@pytest.mark.django_db
def test_weighted_votes_reach_consensus_and_move_reputations(bot_client_for, make_item, member):
    member(ALICE, 2.0)
    member(BOB, 1.5)
    member(CAROL, 1.0)
    item = make_item()
    assert review(bot_client_for(ALICE), "supported")["settled"] is None
    assert review(bot_client_for(CAROL), "not_supported")["settled"] is None
    # S = 3.5 >= 3.0 and 3.5 / 4.5 = 0.78 >= 0.7.
    result = review(bot_client_for(BOB), "supported")
    assert result["settled"] == "accepted"

    item.refresh_from_db()
    assert item.status == KnowledgeItem.Status.ACCEPTED
    settlement = Settlement.objects.get(item=item)
    assert (settlement.supported_weight, settlement.not_supported_weight) == (3.5, 1.0)
    assert [r.weight for r in Review.objects.filter(item=item).order_by("pk")] == [2.0, 1.0, 1.5]
    assert reputation(ALICE) == pytest.approx(2.1)
    assert reputation(BOB) == pytest.approx(1.6)
    assert reputation(CAROL) == pytest.approx(0.9)

    ledger = bot_client_for(CAROL).get("/api/v1/me/reputation").json()
    assert ledger["reputation"] == pytest.approx(0.9)
    [event] = ledger["events"]
    assert event["delta"] == pytest.approx(-0.1)
    assert event["item_id"] == item.pk
    assert "Disagreed with the consensus" in event["reason"]
    # Settled items are not served any more.
    assert next_task(bot_client_for(DAVE)) is None


@pytest.mark.django_db
def test_unclear_votes_dilute_the_share(bot_client_for, make_item, member):
    member(ALICE, 2.0)
    member(BOB, 1.0)
    member(CAROL, 2.0)
    item = make_item()
    review(bot_client_for(CAROL), "unclear")
    review(bot_client_for(ALICE), "supported")
    # S = 3.0 but 3.0 / 5.0 = 0.6 < 0.7: unclear counts toward the total only.
    assert review(bot_client_for(BOB), "supported")["settled"] is None
    item.refresh_from_db()
    assert item.status == KnowledgeItem.Status.PENDING
    assert not ReputationEvent.objects.exists()


@pytest.mark.django_db
def test_reputation_is_capped_and_floored(bot_client_for, make_item, member):
    member(ALICE, 5.0)
    member(BOB, 0.1)
    make_item()
    review(bot_client_for(BOB), "supported")
    # One heavy reviewer decides alone: N = 5.0 >= 3.0 and 5.0 / 5.1 >= 0.7.
    assert review(bot_client_for(ALICE), "not_supported")["settled"] == "rejected"
    assert reputation(ALICE) == 5.0
    assert reputation(BOB) == 0.1
    # Nothing moved, so nothing is on the ledger.
    assert not ReputationEvent.objects.exists()


@pytest.mark.django_db
def test_rejected_hypothesis_is_no_longer_served(bot_client_for, make_item, settings):
    wrong = make_item("The Library of Alexandria was a small private archive.")
    kept = make_item("The library was part of the Mouseion.", quote="part of the Mouseion")
    assert wrong in visible_items()
    for discord_id in (ALICE, BOB, CAROL):
        client = bot_client_for(discord_id)
        for _ in range(2):
            task = next_task(client)
            verdict = "not_supported" if task["item"]["id"] == wrong.pk else "unclear"
            assert answer(client, task["id"], verdict).status_code == 200

    wrong.refresh_from_db()
    assert wrong.status == KnowledgeItem.Status.REJECTED
    assert wrong not in visible_items()
    assert kept in visible_items()
    task = next_task(bot_client_for(DAVE))
    assert task["item"]["id"] == kept.pk
    if "alexandria.search" in settings.INSTALLED_APPS:
        response = bot_client_for(DAVE).get(
            "/api/v1/ask",
            {"q": "Library of Alexandria small private archive", "min_status": "pending"},
        )
        assert response.status_code == 200, response.json()
        served = {result["item"]["id"] for result in response.json()["results"]}
        assert wrong.pk not in served


@pytest.mark.django_db
def test_members_never_get_their_own_items(bot_client_for, make_item, member):
    alice = member(ALICE)
    item = make_item(author=alice)
    assert next_task(bot_client_for(ALICE)) is None
    assert next_task(bot_client_for(BOB))["item"]["id"] == item.pk


@pytest.mark.django_db
def test_open_task_limit_returns_the_oldest_open_task(bot_client_for, make_item, settings):
    settings.REVIEW_MAX_OPEN_TASKS = 2
    for _ in range(3):
        make_item()
    client = bot_client_for(ALICE)
    first, second = next_task(client), next_task(client)
    assert first["item"]["id"] != second["item"]["id"]
    again = next_task(client)
    assert again["id"] == first["id"]
    assert again["resumed"] is True
    assert ReviewTask.objects.count() == 2
    # Answering frees a slot for the third item.
    assert answer(client, first["id"], "skip").status_code == 200
    third = next_task(client)
    assert third["resumed"] is False
    assert third["item"]["id"] not in {first["item"]["id"], second["item"]["id"]}


@pytest.mark.django_db
def test_abandoned_tasks_give_the_item_back(bot_client_for, make_item, settings):
    settings.REVIEW_OPEN_TASKS_PER_ITEM = 1
    item = make_item()
    task = next_task(bot_client_for(ALICE))
    assert task["item"]["id"] == item.pk
    # While Alice holds it, nobody else gets it.
    assert next_task(bot_client_for(BOB)) is None
    past = timezone.now() - timedelta(hours=2)
    ReviewTask.objects.filter(pk=task["id"]).update(
        created_at=past, expires_at=past + timedelta(minutes=30)
    )
    assert next_task(bot_client_for(BOB))["item"]["id"] == item.pk
    # Alice can still answer late while the item takes answers.
    assert answer(bot_client_for(ALICE), task["id"], "supported").status_code == 200


@pytest.mark.django_db
def test_answer_rules(bot_client_for, make_item):
    make_item()
    alice = bot_client_for(ALICE)
    task = next_task(alice)
    assert answer(bot_client_for(BOB), task["id"], "supported").status_code == 404
    refused = answer(alice, task["id"], "not_supported", proposed_text="Better words.")
    assert refused.status_code == 400
    assert "supported" in refused.json()["detail"]
    assert answer(alice, task["id"], "maybe").status_code == 400
    assert answer(alice, task["id"], "supported").status_code == 200
    repeated = answer(alice, task["id"], "supported")
    assert repeated.status_code == 200
    assert repeated.json()["repeated"] is True
    conflict = answer(alice, task["id"], "not_supported")
    assert conflict.status_code == 409
    assert "already answered" in conflict.json()["detail"]
    assert Review.objects.count() == 1


@pytest.mark.django_db
def test_answer_on_an_item_hidden_meanwhile_is_a_conflict(bot_client_for, make_item):
    item = make_item()
    alice = bot_client_for(ALICE)
    task = next_task(alice)
    KnowledgeItem.objects.filter(pk=item.pk).update(status=KnowledgeItem.Status.HIDDEN)
    response = answer(alice, task["id"], "supported")
    assert response.status_code == 409
    assert "no longer open for review" in response.json()["detail"]
    assert not Review.objects.exists()
