"""/mod hide, /mod ban, /mod takedown, and relaying members' reports to the moderation channel.

Discord shows /mod to members with Manage Messages; the backend checks again that the acting
member is staff or listed in its DISCORD_MODERATOR_IDS.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import limits, replies
from bot.client import Actor, AlexandriaClient, AlexandriaError

log = logging.getLogger(__name__)

RELAY_SECONDS = 30.0
TAKEDOWN_SCOPES = [
    app_commands.Choice(name="source number", value="source"),
    app_commands.Choice(name="exact URL", value="url"),
    app_commands.Choice(name="URLs starting with", value="url_prefix"),
    app_commands.Choice(name="domain (and its subdomains)", value="domain"),
    app_commands.Choice(name="SHA-256 of the file or text", value="sha256"),
]


def takedown_receipt(result: dict) -> str:
    """What the moderator reads once a takedown went through (never the content)."""
    takedown = result["takedown"]
    removed = result["removed_now"]
    state = "registered" if result["created"] else "was registered before and is applied again"
    sources = (
        f"{len(removed)} source(s) removed (" + ", ".join(f"#{i}" for i in removed) + ")"
        if removed
        else "no source left to remove"
    )
    return (
        f"Takedown #{takedown['id']} {state}: {sources}, "
        f"{result['items_withdrawn']} item(s) withdrawn. Matching submissions are refused."
    )


def report_embed(report: dict) -> discord.Embed:
    embed = discord.Embed(
        title=f"Report #{report['id']} on item #{report['item_id']}",
        description=report["item_text"],
        url=report["admin_url"],
        colour=discord.Colour.orange(),
    )
    reporter = report.get("reporter_discord_id")
    embed.add_field(
        name="Reported by",
        value=f"<@{reporter}> ({report['reporter_name']})" if reporter else report["reporter_name"],
        inline=True,
    )
    embed.add_field(name="Item status", value=report["item_status"], inline=True)
    embed.add_field(name="Reason", value=report.get("comment") or "—", inline=False)
    embed.add_field(name="Moderate", value=report["admin_url"], inline=False)
    return limits.fit_embed(embed)


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)
class ModerationCog(commands.GroupCog, group_name="mod", group_description="Moderator tools"):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient, *, mod_channel_id: int):
        self.bot = bot
        self.api = api
        self.mod_channel_id = mod_channel_id
        self.last_relayed = 0
        super().__init__()

    def background_loops(self) -> list[tasks.Loop]:
        return [self.relay_reports]

    async def cog_unload(self) -> None:
        self.relay_reports.cancel()

    @app_commands.command(name="hide", description="Hide a knowledge item from answers and review")
    @app_commands.describe(item_id="The item's number", reason="Why (kept on the item)")
    async def hide(
        self,
        interaction: discord.Interaction,
        item_id: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.api.hide_item(Actor.of(interaction.user), item_id, reason=reason)
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        text = (
            f"Item #{result['id']} is hidden."
            if result["changed"]
            else f"Item #{result['id']} was already hidden."
        )
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(name="ban", description="Ban a member from Alexandria")
    @app_commands.describe(member="Who", reason="Why (kept on record)")
    async def ban(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.api.ban_member(Actor.of(interaction.user), member.id, reason=reason)
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        text = (
            f"{member.mention} is banned from Alexandria."
            if result["changed"]
            else f"{member.mention} was already banned."
        )
        await interaction.followup.send(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(name="takedown", description="Remove sources for good (rights request)")
    @app_commands.describe(
        scope="What the value names",
        value="Source number, URL, URL prefix, domain or SHA-256",
        reason="Why (kept in the takedown register)",
    )
    @app_commands.choices(scope=TAKEDOWN_SCOPES)
    async def takedown(
        self,
        interaction: discord.Interaction,
        scope: app_commands.Choice[str],
        value: app_commands.Range[str, 1, 2000],
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.api.take_down(
                Actor.of(interaction.user), scope=scope.value, value=value, reason=reason
            )
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        await interaction.followup.send(limits.message(takedown_receipt(result)), ephemeral=True)

    @tasks.loop(seconds=RELAY_SECONDS)
    async def relay_reports(self) -> None:
        await self.relay_once()

    @relay_reports.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def relay_once(self) -> int:
        """Post new reports to the moderation channel and mark them relayed; how many."""
        me = self.bot.user
        actor = Actor(id=me.id, name=me.name)
        try:
            reports = await self.api.unrelayed_reports(actor, after=self.last_relayed)
            channel = self.bot.get_channel(self.mod_channel_id) or await self.bot.fetch_channel(
                self.mod_channel_id
            )
        except (AlexandriaError, discord.HTTPException) as exc:
            log.warning("report relay paused: %s", exc)
            return 0
        relayed = 0
        for report in reports:
            try:
                await channel.send(
                    embed=report_embed(report), allowed_mentions=discord.AllowedMentions.none()
                )
                await self.api.mark_report_relayed(actor, report["id"])
            except (AlexandriaError, discord.HTTPException) as exc:
                log.warning("report %s not relayed yet: %s", report["id"], exc)
                return relayed
            self.last_relayed = report["id"]
            relayed += 1
        return relayed
