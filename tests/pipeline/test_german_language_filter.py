"""The source-language filter of the member /ask and the public search: one selector
(``search.selectors.matching_source_ids``), a language matching its regional forms."""

import pytest

from alexandria.search.selectors import matching_source_ids
from tests.search.conftest import Kb, kb, search_index  # noqa: F401

GERMAN = "Das Urheberrechtsgesetz erlaubt das Text und Data Mining an zugänglichen Werken."
ENGLISH = "German copyright law permits text and data mining of lawfully accessible works."
QUESTION = "Is text and data mining allowed under copyright law?"


@pytest.fixture
def two_languages(kb):  # noqa: F811
    """The same claim in a source declared Austrian German and in an English one."""
    items = {}
    for language, text in (("de-AT", GERMAN), ("en", ENGLISH)):
        source = kb.source(f"Quelle {language}", text, age_rating=0)
        source.language = language
        source.save(update_fields=["language"])
        items[language] = kb.item(text, anchors=[kb.anchor(source, text)], status="accepted")
    kb.sync()
    return items


def _asked(client, **params) -> list[str]:
    reply = client.get("/api/v1/ask", {"q": QUESTION, "summary": "false", **params})
    assert reply.status_code == 200, reply.content
    return [result["item"]["text"] for result in reply.json()["results"]]


def test_member_ask_filters_by_the_sources_language(bot_client, two_languages):
    assert sorted(_asked(bot_client)) == sorted([GERMAN, ENGLISH])
    assert _asked(bot_client, language="de") == [GERMAN]
    assert _asked(bot_client, language="DE-at") == [GERMAN]
    assert _asked(bot_client, language="en") == [ENGLISH]
    assert _asked(bot_client, language="fr") == []
    too_long = bot_client.get("/api/v1/ask", {"q": QUESTION, "language": "x" * 17})
    assert too_long.status_code == 400
    assert "language" in str(too_long.json())


def test_public_search_and_ask_share_the_selector(anonymous_client, two_languages):
    found = anonymous_client.get("/api/v1/public/search", {"q": QUESTION, "language": "de"})
    assert [r["item"]["text"] for r in found.json()["results"]] == [GERMAN]
    assert matching_source_ids() is None
    (german,) = matching_source_ids(language="de")
    assert two_languages["de-AT"].anchors.get().source_id == german
    # A prefix of another code is no match: "d" is not "de".
    assert matching_source_ids(language="d") == frozenset()
