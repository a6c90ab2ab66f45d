"""Issue 21, finding 9: the bot's posts of member-chosen text ping no one they name."""

from unittest import mock

import discord
from discord.ext import commands

from bot.app import AlexandriaBot
from bot.cogs.submit import SubmitCog
from bot.config import BotConfig
from tests.bot.conftest import MEMBER_ID, make_interaction

VICTIM_ID = 400000000000000099
CONFIG = BotConfig(
    discord_token="t", api_url="http://127.0.0.1:9", service_token="s", mod_channel_id=1
)


def test_the_bot_pings_no_one_by_default(run):
    async def make():
        async with AlexandriaBot(CONFIG, background_tasks=False) as bot:
            return bot.allowed_mentions

    allowed = run(make())
    assert not allowed.everyone and not allowed.roles and not allowed.users
    assert not allowed.replied_user


def test_a_channel_status_post_pings_its_submitter_only(run, backend, api):
    title = f"Read me <@{VICTIM_ID}> @everyone <@&123456789012345678>"
    source = {"id": 7, "title": title, "url": "", "char_count": 12, "status": "chunked"}
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": source})
    backend.route("GET", "/api/v1/sources/7", body={**source, "status": "analysed"})
    bot = mock.create_autospec(commands.Bot, instance=True)
    channel = mock.create_autospec(discord.TextChannel, instance=True)
    bot.get_channel.return_value = channel
    cog = SubmitCog(bot, api, status_notify="channel")
    run(cog.submit.callback(cog, make_interaction(), text="Some text."))
    run(cog.poll_once())

    call = channel.send.await_args
    assert f"<@{VICTIM_ID}>" in call.args[0]  # the title is shown as written ...
    allowed = call.kwargs["allowed_mentions"]
    assert not allowed.everyone and not allowed.roles  # ... but pings only the submitter
    assert [user.id for user in allowed.users] == [MEMBER_ID]
