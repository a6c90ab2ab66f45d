"""Queries: grounded in exact source passages (also after the text is purged), filtered by
layer, status and age rating; rejected, hidden and merged-away items never appear."""

import hashlib

import pytest
from django.utils import timezone

from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.querying import ask
from alexandria.sources.models import Source
from alexandria.textproc.fragments import anchor_verifies

CLIMATE = (
    "Greenhouse gases trap heat. Rising carbon dioxide emissions warm the planet's climate. "
    "Planting trees removes carbon dioxide from the air."
)
SCEPTIC = "Some commentators argue that carbon dioxide has no measurable effect on climate."
WAR = "A history of trench warfare. Artillery shelling caused most battlefield deaths."


@pytest.fixture
def world(kb):
    climate = kb.source("Climate primer", CLIMATE, url="https://example.org/climate", age_rating=0)
    sceptic = kb.source("Op-ed", SCEPTIC, url="https://example.org/oped", age_rating=12)
    war = kb.source("War history", WAR, url="https://example.org/war", age_rating=16)
    warming = kb.item(
        "Carbon dioxide emissions warm the climate.",
        anchors=[kb.anchor(climate, "Rising carbon dioxide emissions warm the planet's climate")],
        status="accepted",
        details={
            "stance": "supports",
            "supports": "",
            "contradicts": "Carbon dioxide has no effect on the climate.",
        },
    )
    no_effect = kb.item(
        "Carbon dioxide has no measurable effect on the climate.",
        anchors=[kb.anchor(sceptic, "carbon dioxide has no measurable effect on climate")],
        details={"stance": "refutes"},
    )
    trees = kb.item(
        "Plant trees to remove carbon dioxide from the air.",
        kind="instruction",
        anchors=[kb.anchor(climate, "Planting trees removes carbon dioxide from the air")],
        details={"goal": "remove carbon dioxide", "steps": ["Plant trees."]},
    )
    shelling = kb.item(
        "Artillery caused most deaths in trench warfare.",
        anchors=[kb.anchor(war, "Artillery shelling caused most battlefield deaths")],
    )
    abstraction = kb.item(
        "Human emissions drive long-term climate change.",
        layer=2,
        derived_from=[warming],
        details={"stance": "neutral", "relation": "consequence"},
    )
    rejected = kb.item("Carbon dioxide emissions heat the climate badly.", status="rejected")
    hidden = kb.item("Carbon dioxide warms the climate, say secret sources.", status="hidden")
    merged_away = kb.item("Emissions of carbon dioxide warm the climate.")
    merged_away.merged_into = warming
    merged_away.save()
    kb.sync()
    return {
        "warming": warming,
        "no_effect": no_effect,
        "trees": trees,
        "shelling": shelling,
        "abstraction": abstraction,
        "never": {rejected.pk, hidden.pk, merged_away.pk},
        "sources": (climate, sceptic, war),
    }


def all_ids(result) -> set[int]:
    return {i for answer in result.results for i in answer.item_ids()}


def test_answer_has_claims_arguments_instructions_and_sources(world, kb):
    result = ask("Does carbon dioxide warm the climate?", index=kb.index)

    top = result.results[0]
    assert top.item.id == world["warming"].pk
    assert world["no_effect"].pk in [ref.id for ref in top.contra]
    assert world["trees"].pk in [ref.id for ref in top.instructions]
    assert [s.fragment for s in top.sources] == [
        "Rising carbon dioxide \u2026 the planet's climate"
    ]
    assert top.sources[0].url == "https://example.org/climate"
    assert top.sources[0].link == (
        "https://example.org/climate#:~:text=Rising%20carbon%20dioxide,the%20planet%27s%20climate"
    )
    assert not all_ids(result) & world["never"]


def test_every_source_resolves_to_its_exact_passage_also_after_purge(world, kb):
    result = ask("carbon dioxide climate", index=kb.index, limit=10)
    sources = [s for answer in result.results for s in answer.sources]
    assert sources
    texts = {source.pk: source.text for source in Source.objects.all()}
    for ref in sources:
        text = texts[ref.source_id]
        assert ref.source_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert anchor_verifies(
            text, ref.start, ref.end, ref.span_sha256, ref.text_start, ref.text_end
        )

    Source.objects.update(text="", text_purged_at=timezone.now())
    purged = ask("carbon dioxide climate", index=kb.index, limit=10)
    assert [s for answer in purged.results for s in answer.sources] == sources


def test_layer_two_answers_are_grounded_through_what_they_derive_from(world, kb):
    result = ask("What drives climate change?", layer=2, index=kb.index)

    assert [answer.item.id for answer in result.results] == [world["abstraction"].pk]
    assert [s.fragment for s in result.results[0].sources] == [
        "Rising carbon dioxide \u2026 the planet's climate"
    ]


def test_filters_status_and_age_rating(world, kb):
    accepted = ask("carbon dioxide climate", min_status="accepted", index=kb.index, limit=10)
    assert {a.item.id for a in accepted.results} == {world["warming"].pk}
    assert all(ref.status == "accepted" for a in accepted.results for ref in a.contra + a.pro)

    for_children = ask("carbon dioxide climate deaths", max_age_rating=6, index=kb.index, limit=10)
    ids = all_ids(for_children)
    assert world["no_effect"].pk not in ids  # its source is rated 12
    assert world["shelling"].pk not in ids  # 16
    assert world["warming"].pk in ids

    grown_ups = ask("trench warfare deaths", max_age_rating=16, index=kb.index)
    assert world["shelling"].pk in all_ids(grown_ups)


def test_hidden_after_indexing_never_appears_even_with_a_stale_index(world, kb):
    KnowledgeItem.objects.filter(pk=world["warming"].pk).update(status="hidden")
    result = ask("Does carbon dioxide warm the climate?", index=kb.index, limit=10)
    assert world["warming"].pk not in all_ids(result)


def test_unrated_sources_count_as_adults_only(world, kb):
    unrated = kb.source("Unrated", "Carbon dioxide is a colourless gas that plants use.")
    gas = kb.item(
        "Carbon dioxide is a colourless gas.",
        anchors=[kb.anchor(unrated, "Carbon dioxide is a colourless gas")],
    )
    kb.sync()
    assert gas.pk not in all_ids(ask("colourless gas", max_age_rating=16, index=kb.index))
    assert gas.pk in all_ids(ask("colourless gas", max_age_rating=18, index=kb.index))


def test_ask_api(world, bot_client):
    response = bot_client.get(
        "/api/v1/ask", {"q": "Does carbon dioxide warm the climate?", "max_age_rating": 12}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["summary"] is None
    first = body["results"][0]
    assert first["item"] == {
        "id": world["warming"].pk,
        "kind": "hypothesis",
        "layer": 1,
        "text": "Carbon dioxide emissions warm the climate.",
        "status": "accepted",
    }
    assert set(first) == {"item", "score", "pro", "contra", "instructions", "sources"}
    assert set(first["sources"][0]) == {
        "source_id",
        "title",
        "url",
        "source_sha256",
        "start",
        "end",
        "span_sha256",
        "text_start",
        "text_end",
        "fragment",
        "link",
    }


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x", "min_status": "rejected"},
        {"q": "x", "max_age_rating": 7},
        {"q": "x", "limit": 0},
    ],
)
def test_ask_api_rejects_bad_parameters(kb, bot_client, params):
    response = bot_client.get("/api/v1/ask", params)
    assert response.status_code == 400
    assert "detail" in response.json()


def test_ask_api_needs_a_member(kb, anonymous_client):
    assert anonymous_client.get("/api/v1/ask", {"q": "x"}).status_code in (401, 403)


def test_summary_cites_only_returned_items(world, kb, settings, fake_openai):
    settings.LLM_BASE_URL = fake_openai.base_url
    warming = world["warming"].pk
    fake_openai.queue(
        f'{{"text": "Emissions warm the climate [{warming}].", "cited_item_ids": [{warming}]}}'
    )
    result = ask("Does carbon dioxide warm the climate?", index=kb.index)
    assert result.summary is not None and result.summary.cited_item_ids == [warming]
    assert (
        "Carbon dioxide emissions warm the climate."
        in fake_openai.requests[0]["messages"][1]["content"]
    )

    outsider = world["shelling"].pk
    fake_openai.queue(f'{{"text": "Made up.", "cited_item_ids": [{warming}, 999999, {outsider}]}}')
    dropped = ask("Does carbon dioxide warm the climate?", index=kb.index, limit=1)
    assert dropped.summary is None
