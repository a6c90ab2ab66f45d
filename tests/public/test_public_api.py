"""/api/v1/public/…: anonymous reads with citations, filters, nothing hidden, nothing about
members or nodes, a rate limit per client address that an API key raises."""

import json

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.knowledge.models import KnowledgeItem
from alexandria.public.services import create_api_key, revoke_api_key

QUESTION = "Does exercise improve sleep quality?"


def listed_ids(body) -> set[int]:
    ids = set()
    for answer in body["results"]:
        ids.add(answer["item"]["id"])
        for group in ("pro", "contra", "related", "instructions"):
            ids |= {entry["id"] for entry in answer[group]}
    return ids


def test_search_answers_anonymously_with_citations(store):
    response = APIClient().get("/api/v1/public/search", {"q": QUESTION})
    assert response.status_code == 200
    assert "public" in response["Cache-Control"] and "max-age" in response["Cache-Control"]
    body = response.json()
    top = body["results"][0]
    assert top["item"]["id"] == store.accepted.pk
    citation = top["sources"][0]
    assert citation["title"] == "Sleep and habits"
    assert citation["span_sha256"] and citation["end"] > citation["start"]
    assert citation["link"].startswith("https://example.org/sleep#:~:text=")
    assert store.contra.pk in {entry["id"] for entry in top["contra"]}
    assert all(entry["sources"] for entry in top["contra"])
    # accepted only by default: the pending item is not listed
    assert store.pending.pk not in listed_ids(body)


def test_hidden_unsupported_and_adult_items_never_appear(store):
    body = APIClient().get("/api/v1/public/search", {"q": "sleep quality", "limit": 20}).json()
    shown = listed_ids(body)
    assert store.hidden.pk not in shown
    assert store.unsupported.pk not in shown
    assert store.adult.pk not in shown  # rated 18, default limit 12
    adult = APIClient().get(
        "/api/v1/public/search", {"q": "drinking before bed", "max_age_rating": 18}
    )
    assert store.adult.pk in listed_ids(adult.json())


def test_an_item_hidden_after_indexing_is_not_shown(store):
    # The index is not told: the database still decides.
    KnowledgeItem.objects.filter(pk=store.accepted.pk).update(status="hidden")
    body = APIClient().get("/api/v1/public/search", {"q": QUESTION, "limit": 20}).json()
    assert store.accepted.pk not in listed_ids(body)
    retrieved = APIClient().get("/api/v1/public/retrieve", {"q": QUESTION, "limit": 20}).json()
    assert store.accepted.pk not in {m["item"]["id"] for m in retrieved["results"]}
    assert APIClient().get(f"/api/v1/public/items/{store.accepted.pk}").status_code == 404


def test_filters(store):
    client = APIClient()
    pending = client.get("/api/v1/public/search", {"q": "caffeine", "min_status": "pending"})
    assert store.pending.pk in listed_ids(pending.json())
    for params in (
        {"genre": "poetry"},
        {"keyword": "cooking"},
        {"language": "de"},
        {"source": store.adult_source.pk},
        {"layer": 2, "kind": "instruction"},
    ):
        body = client.get("/api/v1/public/search", {"q": QUESTION, **params}).json()
        assert body["results"] == [], params
    for params in ({"genre": "Health"}, {"keyword": "SLEEP"}, {"language": "en"}):
        body = client.get("/api/v1/public/search", {"q": QUESTION, **params}).json()
        assert body["results"][0]["item"]["id"] == store.accepted.pk, params
    layer2 = client.get("/api/v1/public/retrieve", {"q": "habits and sleep", "layer": 2}).json()
    assert [m["item"]["id"] for m in layer2["results"]] == [store.abstraction.pk]
    assert layer2["results"][0]["item"]["sources"]  # citations of what it rests on
    bad = client.get("/api/v1/public/search", {"q": QUESTION, "max_age_rating": 13})
    assert bad.status_code == 400


def test_pagination(store):
    client = APIClient()
    first = client.get("/api/v1/public/retrieve", {"q": "sleep", "limit": 1}).json()
    second = client.get("/api/v1/public/retrieve", {"q": "sleep", "limit": 1, "page": 2}).json()
    assert first["has_more"] and first["page"] == 1
    assert first["results"][0]["item"]["id"] != second["results"][0]["item"]["id"]


def test_item_detail_with_provenance_and_built_on(store):
    client = APIClient()
    body = client.get(f"/api/v1/public/items/{store.abstraction.pk}").json()
    assert body["layer"] == 2 and body["citations"]
    # the pending layer-1 item is shown labelled; anchors down the tree
    assert {entry["item"]["id"] for entry in body["provenance"]} == {
        store.accepted.pk,
        store.pending.pk,
    }
    assert all(entry["citations"] for entry in body["provenance"])
    base = client.get(f"/api/v1/public/items/{store.accepted.pk}").json()
    assert [item["id"] for item in base["built_on_this"]] == [store.abstraction.pk]
    for item in (store.hidden, store.unsupported):
        assert client.get(f"/api/v1/public/items/{item.pk}").status_code == 404
    adult = client.get(f"/api/v1/public/items/{store.adult.pk}")
    assert adult.status_code == 404 and "max_age_rating=18" in adult.json()["detail"]


def test_source_detail_lists_only_public_items_and_their_anchors(store):
    body = APIClient().get(f"/api/v1/public/sources/{store.source.pk}").json()
    assert body["genre"] == "health" and body["keywords"] == ["sleep", "exercise"]
    assert body["age_rating"] == 0 and body["sha256"] == store.source.sha256
    item_ids = {item["id"] for item in body["items"]}
    assert store.accepted.pk in item_ids and store.hidden.pk not in item_ids
    assert store.unsupported.pk not in item_ids
    # the hidden item's anchor (screens) is cited by nothing shown
    assert all("Bright" not in anchor["text_start"] for anchor in body["anchors"])
    assert APIClient().get(f"/api/v1/public/sources/{store.adult_source.pk}").status_code == 404


def test_no_member_node_or_job_data(store):
    member = contributor_for_discord_user("100000000000000077", display_name="Secret Name")
    KnowledgeItem.objects.filter(pk=store.accepted.pk).update(author=member)
    store.source.submitted_by = member
    store.source.save(update_fields=["submitted_by"])
    client = APIClient()
    bodies = [
        client.get("/api/v1/public/search", {"q": QUESTION}).content,
        client.get(f"/api/v1/public/items/{store.accepted.pk}").content,
        client.get(f"/api/v1/public/sources/{store.source.pk}").content,
    ]
    for raw in bodies:
        text = raw.decode()
        for secret in ("Secret Name", "100000000000000077", "submitted_by", "author", "job"):
            assert secret not in text
        json.loads(raw)


def test_genres_and_keywords(store):
    client = APIClient()
    assert client.get("/api/v1/public/genres").json() == [{"name": "health", "sources": 1}]
    names = {entry["name"] for entry in client.get("/api/v1/public/keywords").json()}
    assert names == {"sleep", "exercise"}


@pytest.fixture
def tight_limits(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "public": "2/min", "public_key": "5/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_rate_limit_per_address_not_spoofable(store, tight_limits):
    client = APIClient()
    for _ in range(2):
        assert client.get("/api/v1/public/genres", REMOTE_ADDR="10.0.0.1").status_code == 200
    refused = client.get(
        "/api/v1/public/genres", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9"
    )
    assert refused.status_code == 429 and refused["Retry-After"]
    assert client.get("/api/v1/public/genres", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_rate_limit_behind_the_trusted_proxy(store, tight_limits, monkeypatch):
    from rest_framework.settings import api_settings

    monkeypatch.setattr(api_settings, "NUM_PROXIES", 1)
    client = APIClient()
    for _ in range(2):
        ok = client.get(
            "/api/v1/public/genres", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="1.2.3.4"
        )
        assert ok.status_code == 200
    other = client.get(
        "/api/v1/public/genres", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="5.6.7.8"
    )
    assert other.status_code == 200  # another client behind the same proxy


def test_api_key_raises_the_limit_and_revocation_ends_it(store, tight_limits):
    owner = contributor_for_discord_user("100000000000000078", display_name="key owner")
    api_key, key = create_api_key(owner, name="my app")
    client = APIClient()
    for _ in range(5):
        response = client.get(
            "/api/v1/public/genres", REMOTE_ADDR="10.0.0.3", HTTP_AUTHORIZATION=f"ApiKey {key}"
        )
        assert response.status_code == 200
    assert client.get("/api/v1/public/genres", HTTP_X_API_KEY=key).status_code == 429
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert api_key.key_hash != key and key not in str(api_key)
    revoke_api_key(api_key)
    assert client.get("/api/v1/public/genres", HTTP_X_API_KEY=key).status_code == 401


def test_members_get_a_key_through_the_bot(bot_client):
    response = bot_client.post("/api/v1/apikeys", {"name": "notebook"}, format="json")
    assert response.status_code == 201
    key = response.json()["key"]
    assert key.startswith("alx_")
    assert APIClient().get("/api/v1/public/genres", HTTP_X_API_KEY=key).status_code == 200
    assert APIClient().post("/api/v1/apikeys", {}, format="json").status_code in (401, 403)
