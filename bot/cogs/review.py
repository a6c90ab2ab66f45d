"""/review: judge one statement against its evidence, with buttons that survive restarts."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot import limits, replies
from bot.citations import citation_field, citation_line
from bot.client import Actor, AlexandriaClient, AlexandriaError, Conflict
from bot.cooldowns import MemberCooldown

log = logging.getLogger(__name__)

REVIEW_RATE, REVIEW_PER_S = 5, 30.0
VERDICT_LABELS = {
    "supported": ("Supported", discord.ButtonStyle.success),
    "not_supported": ("Not supported", discord.ButtonStyle.danger),
    "unclear": ("Unclear", discord.ButtonStyle.secondary),
    "skip": ("Skip", discord.ButtonStyle.secondary),
    "report": ("Report", discord.ButtonStyle.secondary),
    "edit": ("Supported, better wording…", discord.ButtonStyle.primary),
}
CUSTOM_ID = "review:{action}:{task}:{member}"
# The evidence of an abstraction: its provenance tree, this deep, in at most this many fields.
EVIDENCE_DEPTH = 3
EVIDENCE_FIELDS = 3
EVIDENCE_ITEM_CHARS = 200
EVIDENCE_ANCHORS_PER_ITEM = 2
SPAN_HASH_CHARS = 16
MORE_NOTE_CHARS = 40
INDENT = "\N{EM SPACE}"


def _evidence_block(node: dict, depth: int) -> str:
    """One item of the tree and, under it, its anchors with a prefix of their span hash."""
    pad = INDENT * 2 * (depth - 1)
    text = limits.truncate(node["text"], EVIDENCE_ITEM_CHARS) if node["text"] else "*(hidden)*"
    lines = [f"{pad}• #{node['id']} (layer {node['layer']}, {node['status']}) {text}"]
    anchors = node.get("anchors") or []
    for anchor in anchors[:EVIDENCE_ANCHORS_PER_ITEM]:
        span = anchor["span_sha256"][:SPAN_HASH_CHARS]
        lines.append(f"{pad}{INDENT}↳ {citation_line(anchor)} · span `{span}…`")
    if len(anchors) > EVIDENCE_ANCHORS_PER_ITEM:
        lines.append(f"{pad}{INDENT}↳ …and {len(anchors) - EVIDENCE_ANCHORS_PER_ITEM} more")
    return "\n".join(lines)


def evidence_fields(item: dict, provenance: dict | None) -> list[tuple[str, str]]:
    """The provenance tree of a layer-2+ item, depth first, as (name, value) embed fields:
    items below ``EVIDENCE_DEPTH`` and what does not fit are counted as "…and N more"."""
    nodes = (provenance or {}).get("items") or []
    if item["layer"] < 2 or not nodes:
        return []
    by_id = {node["id"]: node for node in nodes}
    blocks: list[str] = []
    shown: set[int] = set()

    def visit(ids: list[int], depth: int) -> None:
        for node_id in ids:
            node = by_id.get(node_id)
            if node is None or node_id in shown or depth > EVIDENCE_DEPTH:
                continue
            shown.add(node_id)
            blocks.append(_evidence_block(node, depth))
            visit(node["derived_from"], depth + 1)

    visit([node["id"] for node in nodes if node["depth"] == 1], 1)
    room = limits.EMBED_FIELD_VALUE_CHARS - MORE_NOTE_CHARS
    values: list[str] = []
    current, placed = "", 0
    for block in blocks:
        block = limits.truncate(block, room)
        candidate = f"{current}\n{block}" if current else block
        if len(candidate) > room:
            if len(values) + 1 == EVIDENCE_FIELDS:
                break
            values.append(current)
            candidate = block
        current, placed = candidate, placed + 1
    values.append(current)
    hidden = len(nodes) - placed + (provenance.get("omitted") or 0)
    if hidden:
        values[-1] += f"\n…and {hidden} more"
    names = [f"Evidence: what #{item['id']} rests on"] + ["Evidence (continued)"] * len(values)
    return list(zip(names, values, strict=False))


def task_embed(task: dict) -> discord.Embed:
    item = task["item"]
    sources = {source["source_id"]: source for source in task["sources"]}
    embed = discord.Embed(
        title=f"Review {item['kind']} #{item['id']}",
        description=(
            f"**{item['text']}**\n\nDoes the evidence below support this statement?"
            + (
                "\n*(You already hold the maximum of open tasks: here is the oldest.)*"
                if task.get("resumed")
                else ""
            )
        ),
        colour=discord.Colour.blurple(),
    )
    for anchor in task["anchors"]:
        title = sources.get(anchor["source_id"], {}).get("title")
        name, value = citation_field(anchor, title or f"Source #{anchor['source_id']}")
        embed.add_field(name=name, value=value, inline=False)
    for name, value in evidence_fields(item, task.get("provenance")):
        embed.add_field(name=name, value=value, inline=False)
    for proposal in task.get("edit_proposals", [])[:3]:
        embed.add_field(
            name=f"Proposed wording #{proposal['id']} ({proposal['endorsements']} endorsements)",
            value=proposal["text"],
            inline=False,
        )
    embed.set_footer(text=f"Task #{task['id']} · only you can answer it")
    return limits.fit_embed(embed)


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"review:(?P<action>[a-z_]+):(?P<task>[0-9]+):(?P<member>[0-9]+)",
):
    """One answer button of one task; the custom_id carries everything, so restarts are fine."""

    def __init__(self, action: str, task_id: int, member_id: int):
        label, style = VERDICT_LABELS[action]
        super().__init__(
            discord.ui.Button(
                label=label,
                style=style,
                custom_id=CUSTOM_ID.format(action=action, task=task_id, member=member_id),
                row=1 if action == "edit" else 0,
            )
        )
        self.action = action
        self.task_id = task_id
        self.member_id = member_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ReviewButton:
        action = match["action"]
        if action not in VERDICT_LABELS:
            raise ValueError(f"unknown review action {action!r}")
        return cls(action, int(match["task"]), int(match["member"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.member_id:
            return True
        await interaction.response.send_message(
            "This review belongs to someone else. Use /review to get your own.", ephemeral=True
        )
        return False

    async def callback(self, interaction: discord.Interaction) -> None:
        api: AlexandriaClient = interaction.client.api
        if self.action == "edit":
            await interaction.response.send_modal(EditModal(api, self.task_id))
            return
        if self.action == "report":
            await interaction.response.send_modal(ReportModal(api, self.task_id))
            return
        await interaction.response.defer()
        await submit_answer(interaction, api, self.task_id, self.action)


def review_view(task_id: int, member_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in VERDICT_LABELS:
        view.add_item(ReviewButton(action, task_id, member_id))
    return view


async def submit_answer(
    interaction: discord.Interaction,
    api: AlexandriaClient,
    task_id: int,
    verdict: str,
    *,
    comment: str = "",
    proposed_text: str = "",
) -> None:
    """Send the (already deferred) answer; on success the buttons go away."""
    try:
        result = await api.answer_review(
            Actor.of(interaction.user),
            task_id,
            verdict,
            comment=comment,
            proposed_text=proposed_text,
        )
    except Conflict as exc:
        await replies.send_private(interaction, f"Not recorded: {exc.detail}")
        return
    except AlexandriaError as exc:
        await replies.send_error(interaction, exc)
        return
    label = VERDICT_LABELS[verdict][0]
    lines = [f"Recorded: **{label}**." if not result["repeated"] else f"Already recorded: {label}."]
    if result.get("edit_proposal_id"):
        lines.append(f"Your wording is edit proposal #{result['edit_proposal_id']}.")
    if result.get("report_id"):
        lines.append("Moderators have been told.")
    if result.get("settled"):
        lines.append(f"That vote settled it: the statement is now **{result['settled']}**.")
    lines.append("Use /review for the next one.")
    try:
        await interaction.edit_original_response(view=None)
    except discord.HTTPException as exc:
        log.info("could not remove review buttons: %s", exc)
    await replies.send_private(interaction, " ".join(lines))


class EditModal(discord.ui.Modal, title="Supported: propose better wording"):
    wording = discord.ui.TextInput(
        label="Better wording", style=discord.TextStyle.paragraph, max_length=4000
    )
    comment = discord.ui.TextInput(label="Why (optional)", required=False, max_length=2000)

    def __init__(self, api: AlexandriaClient, task_id: int):
        super().__init__()
        self.api = api
        self.task_id = task_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await submit_answer(
            interaction,
            self.api,
            self.task_id,
            "supported",
            comment=self.comment.value,
            proposed_text=self.wording.value,
        )


class ReportModal(discord.ui.Modal, title="Report this statement to moderators"):
    reason = discord.ui.TextInput(
        label="What is wrong with it?", style=discord.TextStyle.paragraph, max_length=2000
    )

    def __init__(self, api: AlexandriaClient, task_id: int):
        super().__init__()
        self.api = api
        self.task_id = task_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await submit_answer(
            interaction, self.api, self.task_id, "report", comment=self.reason.value
        )


class ReviewCog(commands.Cog):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient):
        self.bot = bot
        self.api = api
        self.cooldown = MemberCooldown(REVIEW_RATE, REVIEW_PER_S)

    @app_commands.command(name="review", description="Check one statement against its sources")
    async def review(self, interaction: discord.Interaction) -> None:
        wait = self.cooldown.retry_after(interaction.user.id)
        if wait:
            await replies.send_private(interaction, replies.cooldown_message(wait))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            task = await self.api.next_review(Actor.of(interaction.user))
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        if task is None:
            await interaction.followup.send(
                "Nothing left for you to review right now. Thank you!", ephemeral=True
            )
            return
        await interaction.followup.send(
            embed=task_embed(task),
            view=review_view(task["id"], interaction.user.id),
            ephemeral=True,
        )
