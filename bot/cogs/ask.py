"""/ask: grounded answers, one result per page, every claim with its exact source position
(offsets, the words kept of the passage, a highlighting link and the hashes that verify it)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import limits, replies
from bot.citations import citation_field
from bot.client import Actor, AlexandriaClient, AlexandriaError

# Minimum reader age the backend rates sources with (0, 6, 12, 16, 18). Discord's members are
# 13+; age-restricted (NSFW) channels are 18+.
SAFE_CHANNEL_MAX_AGE = 12
NSFW_CHANNEL_MAX_AGE = 18
PAGE_TIMEOUT_S = 600
MAX_LISTED = 5


def channel_max_age(channel) -> int:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return NSFW_CHANNEL_MAX_AGE if callable(is_nsfw) and is_nsfw() else SAFE_CHANNEL_MAX_AGE


def _bullets(items: list[dict]) -> str:
    lines = [f"• {item['text']} *(#{item['id']}, {item['status']})*" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"…and {len(items) - MAX_LISTED} more")
    return "\n".join(lines)


def result_embed(query: str, result: dict, index: int, total: int) -> discord.Embed:
    item = result["item"]
    embed = discord.Embed(
        title=f"{item['kind'].capitalize()} #{item['id']} (layer {item['layer']})",
        description=item["text"],
        colour=discord.Colour.green()
        if item["status"] == "accepted"
        else discord.Colour.light_grey(),
    )
    embed.set_author(name=f"Ask: {query}")
    if result.get("pro"):
        embed.add_field(name="Supporting", value=_bullets(result["pro"]), inline=False)
    if result.get("contra"):
        embed.add_field(name="Contradicting", value=_bullets(result["contra"]), inline=False)
    if result.get("instructions"):
        embed.add_field(name="Instructions", value=_bullets(result["instructions"]), inline=False)
    for source in result.get("sources", []):
        name, value = citation_field(source, source.get("title") or "Source")
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(
        text=f"Result {index + 1} of {total} · status {item['status']} · score "
        f"{result.get('score', 0):.2f}"
    )
    return limits.fit_embed(embed)


class Pages(discord.ui.View):
    """Previous/next over prepared embeds; only the member who asked can turn the pages."""

    def __init__(self, pages: list[discord.Embed], owner_id: int):
        super().__init__(timeout=PAGE_TIMEOUT_S)
        self.pages = pages
        self.owner_id = owner_id
        self.index = 0
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "These pages belong to someone else's question; ask your own with /ask.",
            ephemeral=True,
        )
        return False

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.pages[self.index], view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.index + 1)


class AskCog(commands.Cog):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient):
        self.bot = bot
        self.api = api

    @app_commands.command(name="ask", description="Ask Alexandria; answers cite exact sources")
    @app_commands.describe(
        query="Your question or keywords",
        layer="Abstraction layer (1 = closest to the sources)",
        reviewed_only="Only statements the community accepted",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 300],
        layer: app_commands.Range[int, 1, 10] | None = None,
        reviewed_only: bool = False,
    ) -> None:
        await interaction.response.defer(thinking=True)
        try:
            answer = await self.api.ask(
                Actor.of(interaction.user),
                query,
                layer=layer,
                min_status="accepted" if reviewed_only else "pending",
                max_age_rating=channel_max_age(interaction.channel),
            )
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc, public_deferral=True)
            return
        results = answer.get("results", [])
        if not results:
            await interaction.followup.send(
                limits.message(f"Alexandria has no grounded answer for “{query}” yet.")
            )
            return
        pages = [result_embed(query, result, i, len(results)) for i, result in enumerate(results)]
        if len(pages) == 1:
            await interaction.followup.send(embed=pages[0])
            return
        await interaction.followup.send(embed=pages[0], view=Pages(pages, interaction.user.id))
