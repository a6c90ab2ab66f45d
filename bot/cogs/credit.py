"""/leaderboard and /me: credit earned by volunteering, reputation earned by reviewing."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import limits, replies
from bot.client import Actor, AlexandriaClient, AlexandriaError

REPUTATION_EVENTS_SHOWN = 10


class CreditCog(commands.Cog):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient):
        self.bot = bot
        self.api = api

    @app_commands.command(name="leaderboard", description="Who contributed the most compute")
    @app_commands.describe(size="How many places to show")
    async def leaderboard(
        self, interaction: discord.Interaction, size: app_commands.Range[int, 1, 25] = 10
    ) -> None:
        await interaction.response.defer(thinking=True)
        try:
            board = await self.api.leaderboard(Actor.of(interaction.user), limit=size)
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc, public_deferral=True)
            return
        entries = board.get("entries", [])
        lines = [
            f"**{entry['rank']}.** {entry['display_name']} · {entry['credit']} credit · "
            f"{entry['jobs']} jobs"
            for entry in entries
        ] or ["Nobody has earned credit yet: /volunteer register to be the first."]
        embed = discord.Embed(
            title="Alexandria leaderboard",
            description=limits.paginate(lines, limits.EMBED_DESCRIPTION_CHARS)[0],
            colour=discord.Colour.gold(),
        )
        await interaction.followup.send(embed=limits.fit_embed(embed))

    @app_commands.command(name="me", description="Your reputation and why it moved")
    async def me(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        actor = Actor.of(interaction.user)
        try:
            me = await self.api.me(actor)
            ledger = await self.api.my_reputation(actor)
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        embed = discord.Embed(
            title=me.get("display_name") or actor.name,
            description=f"Reputation **{ledger['reputation']:.2f}** (the weight of your reviews)",
            colour=discord.Colour.blurple(),
        )
        events = ledger.get("events", [])[:REPUTATION_EVENTS_SHOWN]
        if events:
            embed.add_field(
                name="Recent changes",
                value="\n".join(f"`{event['delta']:+.2f}` {event['reason']}" for event in events),
                inline=False,
            )
        await interaction.followup.send(embed=limits.fit_embed(embed), ephemeral=True)
