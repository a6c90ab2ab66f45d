"""/apikey with spec-set Discord mocks against a scripted backend over real HTTP."""

import json
from unittest import mock

from discord.ext import commands

from bot.cogs.apikey import ApiKeyCog
from tests.bot.conftest import MEMBER_ID, make_interaction, sent, sent_text


def test_apikey_shows_the_key_once_and_privately(run, backend, api):
    backend.route(
        "POST",
        "/api/v1/apikeys",
        201,
        {
            "id": 3,
            "name": "notebook",
            "prefix": "alx_abc",
            "created_at": "2025-01-01T00:00:00Z",
            "key": "alx_abcdefsecret",
        },
    )
    cog = ApiKeyCog(mock.create_autospec(commands.Bot, instance=True), api)
    interaction = make_interaction()
    run(cog.apikey.callback(cog, interaction, name="notebook"))
    interaction.response.defer.assert_awaited_once()
    assert interaction.response.defer.await_args.kwargs["ephemeral"] is True
    assert "alx_abcdefsecret" in sent_text(interaction)
    assert all(call.kwargs.get("ephemeral") is True for call in sent(interaction))
    request = backend.requests[-1]
    assert request.headers["X-Discord-User"] == str(MEMBER_ID)
    body = request.body if isinstance(request.body, dict) else json.loads(request.body)
    assert body == {"name": "notebook"}


def test_apikey_refusal_is_told_privately(run, backend, api):
    backend.route("POST", "/api/v1/apikeys", 409, {"detail": "You already have 5 active API keys"})
    cog = ApiKeyCog(mock.create_autospec(commands.Bot, instance=True), api)
    interaction = make_interaction()
    run(cog.apikey.callback(cog, interaction))
    assert "5 active API keys" in sent_text(interaction)
    assert "alx_" not in sent_text(interaction)
