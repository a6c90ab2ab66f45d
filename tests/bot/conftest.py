"""A scripted Alexandria backend over real HTTP, and spec-set Discord mocks for the cogs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from unittest import mock

import discord
import pytest

from bot.client import AlexandriaClient
from tests.support.fake_openai import JsonServer, Request, Response

SERVICE_TOKEN = "bot-unit-test-token"
MEMBER_ID = 400000000000000001
OTHER_ID = 400000000000000002


class ScriptedBackend(JsonServer):
    """Answers ``(method, path)`` from ``routes`` (a Response or ``request -> Response``)."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Response | Callable[[Request], Response]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def route(self, method: str, path: str, status: int = 200, body=None, headers=None) -> None:
        self.routes[(method, path)] = Response(status, body, headers or {})

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        path = request.path.split("?", 1)[0]
        answer = self.routes.get((request.method, path))
        if answer is None:
            return Response(404, {"detail": f"no route for {request.method} {path}"})
        return answer(request) if callable(answer) else answer


@pytest.fixture
def backend():
    with ScriptedBackend() as server:
        yield server


@pytest.fixture
def run():
    """Run coroutines on one event loop for the whole test (httpx pools are bound to it)."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture
def api(backend, run):
    client = AlexandriaClient(backend.url, SERVICE_TOKEN, timeout=5)
    yield client
    run(client.aclose())


def make_user(user_id: int = MEMBER_ID, name: str = "Zoë") -> discord.Member:
    user = mock.create_autospec(discord.Member, instance=True)
    user.id = user_id
    user.name = name
    user.display_name = name
    user.mention = f"<@{user_id}>"
    return user


def make_interaction(user_id: int = MEMBER_ID, *, nsfw: bool = False, api=None):
    """A spec-set Interaction whose response reports ``is_done()`` once answered or deferred."""
    interaction = mock.create_autospec(discord.Interaction, instance=True)
    interaction.user = make_user(user_id)
    interaction.channel_id = 500000000000000001
    channel = mock.create_autospec(discord.TextChannel, instance=True)
    channel.is_nsfw.return_value = nsfw
    interaction.channel = channel
    response = mock.create_autospec(discord.InteractionResponse, instance=True)
    done = {"value": False}

    def answered(*args, **kwargs):
        done["value"] = True

    for name in ("defer", "send_message", "send_modal", "edit_message"):
        getattr(response, name).side_effect = answered
    response.is_done.side_effect = lambda: done["value"]
    interaction.response = response
    interaction.followup = mock.create_autospec(discord.Webhook, instance=True)
    interaction.client = mock.Mock(spec_set=["api"], api=api)
    return interaction


def sent(interaction) -> list[mock._Call]:
    """Everything the member was sent: first responses and followups."""
    return [
        *interaction.response.send_message.await_args_list,
        *interaction.followup.send.await_args_list,
    ]


def sent_text(interaction) -> str:
    return "\n".join(
        str(call.args[0] if call.args else call.kwargs.get("content", ""))
        for call in sent(interaction)
    )
