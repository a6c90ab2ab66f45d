"""Queries: grounded in exact source passages (also after the text is purged) for every listed
item, filtered by layer, status (accepted by default) and age rating; rejected, hidden and
merged-away items never appear; pro/contra judged per pair, never from a document's stance."""

import hashlib

import pytest
from django.utils import timezone

from alexandria.jobs.models import Job
from alexandria.knowledge.models import KnowledgeItem
from alexandria.search.models import StanceVerdict
from alexandria.search.querying import ask, is_how_to
from alexandria.search.services.indexing import rebuild_index
from alexandria.search.vector_index import VectorIndex
from alexandria.sources.models import Source
from alexandria.textproc.fragments import anchor_verifies
from tests.search.conftest import KeyedEmbedder

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
    # Its own document asserts it ("supports"): that says nothing about the claim above.
    no_effect = kb.item(
        "Carbon dioxide has no measurable effect on the climate.",
        anchors=[kb.anchor(sceptic, "carbon dioxide has no measurable effect on climate")],
        status="accepted",
        details={"stance": "supports"},
    )
    trees = kb.item(
        "Plant trees to remove carbon dioxide from the air.",
        kind="instruction",
        anchors=[kb.anchor(climate, "Planting trees removes carbon dioxide from the air")],
        status="accepted",
        details={"goal": "remove carbon dioxide", "steps": ["Plant trees."]},
    )
    shelling = kb.item(
        "Artillery caused most deaths in trench warfare.",
        anchors=[kb.anchor(war, "Artillery shelling caused most battlefield deaths")],
        status="accepted",
    )
    abstraction = kb.item(
        "Human emissions drive long-term climate change.",
        layer=2,
        derived_from=[warming],
        status="accepted",
        details={"stance": "supports", "relation": "cause"},
    )
    unreviewed = kb.item(
        "Carbon dioxide from emissions heats the climate.",
        anchors=[kb.anchor(climate, "Greenhouse gases trap heat")],
        details={"stance": "supports"},
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
        "unreviewed": unreviewed,
        "never": {rejected.pk, hidden.pk, merged_away.pk},
        "sources": (climate, sceptic, war),
    }


def all_ids(result) -> set[int]:
    return {i for answer in result.results for i in answer.item_ids()}


def test_answer_has_claims_arguments_instructions_and_sources(world, kb):
    result = ask("Does carbon dioxide warm the climate?", index=kb.index)

    top = result.results[0]
    assert top.item.id == world["warming"].pk and not result.how_to
    # A negated statement of the same thing (also found by the claim's "contradicts" probe).
    assert [ref.id for ref in top.contra] == [world["no_effect"].pk]
    assert world["trees"].pk in [ref.id for ref in top.instructions]
    # Derived from the claim under "cause", with document stance "supports", but no verdict.
    assert top.pro == []
    assert world["abstraction"].pk in [ref.id for ref in top.related]
    assert [s.fragment for s in top.sources] == [
        "Rising carbon dioxide \u2026 the planet's climate"
    ]
    assert top.sources[0].url == "https://example.org/climate"
    assert top.sources[0].link == (
        "https://example.org/climate#:~:text=Rising%20carbon%20dioxide,the%20planet%27s%20climate"
    )
    assert not all_ids(result) & world["never"]


def test_every_listed_item_carries_its_citations(world, kb):
    result = ask("Does carbon dioxide warm the climate?", index=kb.index, limit=10)
    top = result.results[0]
    listed = [ref for answer in result.results for ref in answer.listed()]
    assert {world["no_effect"].pk, world["trees"].pk, world["abstraction"].pk} <= {
        ref.id for ref in listed
    }
    assert all(ref.sources for ref in listed), [ref for ref in listed if not ref.sources]
    by_id = {ref.id: ref for ref in listed}
    assert [s.fragment for s in by_id[world["no_effect"].pk].sources] == [
        "carbon dioxide has \u2026 effect on climate"
    ]
    # A layer-2 item cites what it was abstracted from.
    assert by_id[world["abstraction"].pk].sources == top.item.sources
    assert tuple(top.sources) == top.item.sources


def test_pending_items_are_hidden_by_default_and_labelled_on_request(world, kb):
    default = ask("Carbon dioxide heats the climate", index=kb.index, limit=10)
    assert world["unreviewed"].pk not in all_ids(default)
    assert {ref.status for a in default.results for ref in a.listed()} == {"accepted"}

    everything = ask(
        "Carbon dioxide heats the climate", min_status="pending", index=kb.index, limit=10
    )
    refs = {ref.id: ref for a in everything.results for ref in a.listed()}
    assert refs[world["unreviewed"].pk].status == "pending"
    assert refs[world["warming"].pk].status == "accepted"


def test_a_how_to_question_is_answered_with_instructions_first(world, kb):
    result = ask("How do I remove carbon dioxide from the air?", index=kb.index)

    assert result.how_to
    kinds = [answer.item.kind for answer in result.results]
    assert kinds[0] == "instruction" and result.results[0].item.id == world["trees"].pk
    assert "hypothesis" in kinds and kinds == sorted(kinds, key=lambda k: k != "instruction")
    assert result.results[0].sources and result.results[0].item.sources
    plain = ask("Does carbon dioxide warm the climate?", index=kb.index)
    assert {answer.item.kind for answer in plain.results} == {"hypothesis"}


@pytest.mark.parametrize(
    ("question", "how_to"),
    [
        ("How do I plant a tree?", True),
        ("how to bake bread", True),
        ("How can I lower my blood pressure?", True),
        ("What are the steps to file a patent?", True),
        ("Wie kann ich Brot backen?", True),
        ("Anleitung: Fahrrad reparieren", True),
        ("How does carbon dioxide warm the climate?", False),
        ("Why do bees dance?", False),
        ("Wie wirkt Kohlendioxid auf das Klima?", False),
    ],
)
def test_how_to_questions_are_recognised(question, how_to):
    assert is_how_to(question) is how_to


def test_a_negated_claim_asserted_by_its_document_is_not_pro(kb):
    """The issue's case: "caffeine does not affect sleep", asserted by its own document, was
    listed as supporting "caffeine reduces sleep quality"."""
    source = kb.source("Notes", "Caffeine reduces sleep quality. Caffeine does not affect sleep.")
    claim = kb.item(
        "Caffeine reduces sleep quality.",
        anchors=[kb.anchor(source, "Caffeine reduces sleep quality")],
        status="accepted",
        details={"stance": "supports"},
    )
    negated = kb.item(
        "Caffeine does not affect sleep.",
        anchors=[kb.anchor(source, "Caffeine does not affect sleep")],
        status="accepted",
        details={"stance": "supports"},
    )
    kb.sync()

    [answer] = ask("Does caffeine reduce sleep quality?", index=kb.index, limit=1).results
    assert answer.item.id == claim.pk
    assert [ref.id for ref in answer.contra] == [negated.pk] and answer.pro == []

    # A (weak) judge that calls it "supports" does not make it pro: the negation wins.
    StanceVerdict.objects.create(
        claim=claim, other=negated, relation="supports", decided_at=timezone.now()
    )
    [answer] = ask("Does caffeine reduce sleep quality?", index=kb.index, limit=1).results
    assert [ref.id for ref in answer.contra] == [negated.pk] and answer.pro == []


def test_a_contra_probe_marks_what_is_near_it_not_what_restates_the_claim(kb):
    """The claim's "contradicts" text finds its neighbours as contra evidence, except those
    nearer the claim itself: in a space that barely tells a negation apart, the probe also
    reaches the claim's paraphrases."""
    vectors = {
        "Does alpha raise beta?": [1, 0],
        "Alpha raises beta.": [1, 0],
        "Alpha has no effect on beta.": [0.6, 0.8],  # the probe
        "Beta goes up with alpha.": [0.95, 0.31],  # near both, nearer the claim
        "Gamma blocks what alpha does to beta.": [0.45, 0.89],  # near the probe only
    }
    source = kb.source("Alpha", " ".join(vectors))
    claim, restates, opposes = (
        kb.item(text, anchors=[kb.anchor(source, text.rstrip("."))], status="accepted",
                details={"contradicts": "Alpha has no effect on beta."} if i == 0 else {})
        for i, text in enumerate(["Alpha raises beta.", "Beta goes up with alpha.",
                                  "Gamma blocks what alpha does to beta."])
    )  # fmt: skip
    index = VectorIndex(client=kb.index.client, embedder=KeyedEmbedder(vectors))
    rebuild_index(index)

    result = ask("Does alpha raise beta?", index=index, summarise=False)

    answer = next(answer for answer in result.results if answer.item.id == claim.pk)
    assert [ref.id for ref in answer.contra] == [opposes.pk]
    assert [ref.id for ref in answer.related] == [restates.pk] and answer.pro == []


def test_a_stored_verdict_decides_and_reads_queue_no_job(world, kb):
    warming, unreviewed = world["warming"], world["unreviewed"]

    def answer_of_warming():
        result = ask("Does carbon dioxide warm the climate?", min_status="pending", index=kb.index)
        return next(answer for answer in result.results if answer.item.id == warming.pk)

    assert unreviewed.pk in [ref.id for ref in answer_of_warming().related]

    StanceVerdict.objects.create(
        claim=warming, other=unreviewed, relation="supports", decided_at=timezone.now()
    )
    answer = answer_of_warming()
    assert [ref.id for ref in answer.pro] == [unreviewed.pk]
    assert unreviewed.pk not in [ref.id for ref in answer.related]

    StanceVerdict.objects.filter(claim=warming).update(relation="unrelated")
    assert unreviewed.pk in [ref.id for ref in answer_of_warming().related]
    assert not Job.objects.exists()


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
    assert world["warming"].pk in {a.item.id for a in accepted.results}
    assert world["unreviewed"].pk not in all_ids(accepted)
    assert all(ref.status == "accepted" for a in accepted.results for ref in a.listed())

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
        status="accepted",
    )
    kb.sync()
    assert gas.pk not in all_ids(ask("colourless gas", max_age_rating=16, index=kb.index))
    assert gas.pk in all_ids(ask("colourless gas", max_age_rating=18, index=kb.index))


def test_ask_api(world, bot_client):
    response = bot_client.get(
        "/api/v1/ask", {"q": "Does carbon dioxide warm the climate?", "max_age_rating": 12}
    )
    pending = bot_client.get(
        "/api/v1/ask", {"q": "Carbon dioxide heats the climate", "min_status": "pending"}
    )
    statuses = {
        ref["status"]
        for result in pending.json()["results"]
        for key in ("pro", "contra", "related")
        for ref in [result["item"], *result[key]]
    }
    assert statuses == {"accepted", "pending"}
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
    assert body["how_to"] is False
    assert set(first) == {
        "item", "score", "pro", "contra", "related", "instructions", "sources"
    }  # fmt: skip
    [contra] = first["contra"]
    assert contra["id"] == world["no_effect"].pk and contra["status"] == "accepted"
    assert contra["sources"] and set(contra["sources"][0]) == set(first["sources"][0])
    assert all(ref["sources"] for key in ("related", "instructions") for ref in first[key])
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
