"""/submit: send a text to Alexandria, then hear how its analysis goes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import limits, replies
from bot.client import Actor, AlexandriaClient, AlexandriaError
from bot.cooldowns import MemberCooldown

log = logging.getLogger(__name__)

SUBMIT_RATE, SUBMIT_PER_S = 3, 60.0
STATUS_POLL_SECONDS = 30.0
# Files the backend extracts; anything else is refused before it is downloaded.
UPLOAD_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
ANNOUNCED_STATUSES = {
    "received": "had its text extracted and is queued for analysis",
    "chunked": "was split into chunks and is queued for analysis",
    "analysing": "is being analysed by volunteer nodes",
    "analysed": "has been analysed: its knowledge is now up for review (/review)",
    "failed": "could not be analysed",
}
FINAL_STATUSES = {"analysed", "failed"}


@dataclass
class TrackedSubmission:
    """A source this bot submitted, followed until its analysis ends (kept in memory)."""

    source_id: int
    title: str
    member: Actor
    channel_id: int | None
    status: str


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 else ""


def receipt(result: dict) -> str:
    source = result["source"]
    title = source.get("title") or "Untitled"
    if result.get("duplicate"):
        link = f" (<{source['url']}>)" if source.get("url") else ""
        return (
            f"Alexandria already has this text: source #{source['id']} “{title}”{link}. "
            "Nothing new was stored."
        )
    if source.get("status") == "extracting":
        size = f"a {source['byte_size']:,}-byte file, its text being extracted"
    else:
        size = f"{source['char_count']:,} characters"
    return (
        f"Received, thank you! Your submission is source #{source['id']} “{title}” "
        f"({size}). I'll tell you when its analysis moves on."
    )


class LongTextModal(discord.ui.Modal, title="Submit a text to Alexandria"):
    text = discord.ui.TextInput(
        label="Text", style=discord.TextStyle.paragraph, max_length=limits.TEXT_INPUT_CHARS
    )
    source_title = discord.ui.TextInput(label="Title", required=False, max_length=500)
    url = discord.ui.TextInput(label="Where it comes from (URL)", required=False, max_length=2000)
    licence = discord.ui.TextInput(label="Licence", required=False, max_length=500)

    def __init__(self, cog: SubmitCog):
        super().__init__()
        self.cog = cog

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.cog.deliver(
            interaction,
            text=self.text.value,
            title=self.source_title.value,
            url=self.url.value,
            licence=self.licence.value,
        )


class SubmitCog(commands.Cog):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient, *, status_notify: str = "dm"):
        self.bot = bot
        self.api = api
        self.status_notify = status_notify
        self.cooldown = MemberCooldown(SUBMIT_RATE, SUBMIT_PER_S)
        self.tracked: dict[int, TrackedSubmission] = {}

    def background_loops(self) -> list[tasks.Loop]:
        return [self.poll_statuses]

    async def cog_unload(self) -> None:
        self.poll_statuses.cancel()

    @app_commands.command(name="submit", description="Submit a text, file or link to Alexandria")
    @app_commands.describe(
        text="The text (leave empty to paste a long one in a form)",
        attachment="A .txt, .md, .html or .pdf file",
        title="Title of the text",
        url="Where the text comes from",
        licence="Its licence, e.g. CC BY 4.0",
    )
    async def submit(
        self,
        interaction: discord.Interaction,
        text: str | None = None,
        attachment: discord.Attachment | None = None,
        title: str | None = None,
        url: str | None = None,
        licence: str | None = None,
    ) -> None:
        wait = self.cooldown.retry_after(interaction.user.id)
        if wait:
            await replies.send_private(interaction, replies.cooldown_message(wait))
            return
        if text and attachment:
            await replies.send_private(interaction, "Send either a text or a file, not both.")
            return
        if not text and attachment is None:
            # The form is the first response, so it can't follow a deferral.
            await interaction.response.send_modal(LongTextModal(self))
            return
        if attachment is not None and _extension(attachment.filename) not in UPLOAD_TYPES:
            await replies.send_private(
                interaction, "I can take .txt, .md, .html and .pdf files; that one isn't."
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.deliver(
            interaction,
            text=text or "",
            attachment=attachment,
            title=title or "",
            url=url or "",
            licence=licence or "",
        )

    async def deliver(
        self,
        interaction: discord.Interaction,
        *,
        text: str = "",
        attachment: discord.Attachment | None = None,
        title: str = "",
        url: str = "",
        licence: str = "",
    ) -> None:
        """Send the (already deferred) submission; say "received" only when the backend has it."""
        actor = Actor.of(interaction.user)
        citation = {"title": title, "url": url, "licence_note": licence}
        try:
            if attachment is not None:
                content = await attachment.read()
                result = await self.api.submit_file(
                    actor,
                    filename=attachment.filename,
                    content=content,
                    content_type=UPLOAD_TYPES[_extension(attachment.filename)],
                    **citation,
                )
            else:
                result = await self.api.submit_text(actor, text, **citation)
        except AlexandriaError as exc:
            await interaction.followup.send(
                limits.message(f"Your text was not received. {replies.describe(exc)}"),
                ephemeral=True,
            )
            return
        except discord.HTTPException as exc:
            log.warning("could not download attachment: %s", exc)
            await interaction.followup.send(
                "Your text was not received: I couldn't download the file from Discord.",
                ephemeral=True,
            )
            return
        await interaction.followup.send(limits.message(receipt(result)), ephemeral=True)
        source = result["source"]
        if not result.get("duplicate") and source["status"] not in FINAL_STATUSES:
            self.tracked[source["id"]] = TrackedSubmission(
                source_id=source["id"],
                title=source.get("title") or "Untitled",
                member=actor,
                channel_id=getattr(interaction, "channel_id", None),
                status=source["status"],
            )

    @tasks.loop(seconds=STATUS_POLL_SECONDS)
    async def poll_statuses(self) -> None:
        await self.poll_once()

    @poll_statuses.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def poll_once(self) -> None:
        """Look up every followed submission once; announce the ones whose status moved."""
        for tracked in list(self.tracked.values()):
            try:
                source = await self.api.source(tracked.member, tracked.source_id)
            except AlexandriaError as exc:
                log.info("status of source %s unavailable: %s", tracked.source_id, exc)
                if exc.status in {403, 404}:
                    self.tracked.pop(tracked.source_id, None)
                continue
            status = source["status"]
            if status == tracked.status:
                continue
            tracked.status = status
            if status in ANNOUNCED_STATUSES:
                await self.announce(tracked, status, source.get("failure_reason") or "")
            if status in FINAL_STATUSES:
                self.tracked.pop(tracked.source_id, None)

    async def announce(self, tracked: TrackedSubmission, status: str, reason: str = "") -> None:
        """Tell the member; a failure comes with the backend's reason (why it was refused)."""
        text = limits.message(
            f"Your submission #{tracked.source_id} “{tracked.title}” {ANNOUNCED_STATUSES[status]}"
            + (f": {reason}" if status == "failed" and reason else ".")
        )
        try:
            if self.status_notify == "channel" and tracked.channel_id:
                channel = self.bot.get_channel(tracked.channel_id) or await self.bot.fetch_channel(
                    tracked.channel_id
                )
                await channel.send(
                    f"<@{tracked.member.id}> {text}"[: limits.MESSAGE_CHARS],
                    # The title is the member's text: "<@id>" in it must ping no one else.
                    allowed_mentions=discord.AllowedMentions(
                        everyone=False, roles=False, users=[discord.Object(tracked.member.id)]
                    ),
                )
            else:
                user = self.bot.get_user(tracked.member.id) or await self.bot.fetch_user(
                    tracked.member.id
                )
                await user.send(text)
        except discord.HTTPException as exc:
            # Closed DMs or a deleted channel: the status is still visible with /me.
            log.info("could not announce source %s: %s", tracked.source_id, exc)
