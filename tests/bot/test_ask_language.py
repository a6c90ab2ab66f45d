"""/ask's language option: passed to the API as the source-language filter, and named when
nothing in that language answers."""

from unittest import mock
from urllib.parse import parse_qs, urlparse

from discord.ext import commands

from bot.cogs.ask import AskCog
from tests.bot.conftest import make_interaction, sent_text


def _query(request) -> dict:
    return {key: values[0] for key, values in parse_qs(urlparse(request.path).query).items()}


def _cog(api) -> AskCog:
    return AskCog(mock.create_autospec(commands.Bot, instance=True), api)


def _result(item_id: int, text: str) -> dict:
    return {
        "item": {
            "id": item_id,
            "kind": "hypothesis",
            "layer": 1,
            "text": text,
            "status": "accepted",
        },
        "score": 0.8,
        "pro": [],
        "contra": [],
        "related": [],
        "instructions": [],
        "sources": [],
    }


def test_the_language_option_filters_the_api_query(run, backend, api):
    claim = "Das Urheberrechtsgesetz erlaubt das Text und Data Mining."
    backend.route("GET", "/api/v1/ask", body={"query": "q", "results": [_result(3, claim)]})
    cog = _cog(api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="Text und Data Mining", language=" DE "))
    assert _query(backend.requests[0]) == {
        "q": "Text und Data Mining",
        "min_status": "accepted",
        "max_age_rating": "12",
        "language": "de",
    }
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert embed.description == claim


def test_no_answer_in_that_language_says_so(run, backend, api):
    backend.route("GET", "/api/v1/ask", body={"query": "q", "results": []})
    cog = _cog(api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="sleep", language="fr"))
    assert _query(backend.requests[0])["language"] == "fr"
    assert "in sources of language “fr”" in sent_text(interaction)


def test_without_the_option_no_language_is_sent(run, backend, api):
    backend.route("GET", "/api/v1/ask", body={"query": "q", "results": []})
    cog = _cog(api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="sleep"))
    assert "language" not in _query(backend.requests[0])
    assert "language" not in sent_text(interaction)
