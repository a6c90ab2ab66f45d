"""/apikey: a key for Alexandria's public read API, which raises its anonymous rate limit."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import limits, replies
from bot.client import Actor, AlexandriaClient, AlexandriaError


class ApiKeyCog(commands.Cog):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient):
        self.bot = bot
        self.api = api

    @app_commands.command(name="apikey", description="Get a public API key (shown once)")
    @app_commands.describe(name="What the key is for, e.g. my notebook")
    async def apikey(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100] = ""
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            created = await self.api.create_api_key(Actor.of(interaction.user), name=name)
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        await interaction.followup.send(
            limits.message(
                f"Your API key{' for ' + created['name'] if created.get('name') else ''}:\n"
                f"```\n{created['key']}\n```\n"
                f"Send it as `Authorization: ApiKey <key>` to {self.api.base_url}/api/v1/public/"
                " for a higher rate limit. It is shown only now: keep it secret."
            ),
            ephemeral=True,
        )
