"""/volunteer: register a machine as a worker node, and see how your nodes are doing."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot import limits, replies
from bot.client import Actor, AlexandriaClient, AlexandriaError
from jobkinds import all_kinds


def runner_kinds() -> dict[str, list[str]]:
    """Job kinds per runner ("llm", "clip"), from the worker's registry (Django-free)."""
    kinds: dict[str, list[str]] = {}
    for kind in all_kinds():
        kinds.setdefault(kind.runner, []).append(kind.name)
    return kinds


def health_notes(node: dict, now: datetime | None = None) -> str:
    """What the owner should look at: the server pausing the node for giving back too many
    jobs, and the node saying its model is unavailable or that it gave up."""
    notes = ""
    until = node.get("paused_until")
    if until and datetime.fromisoformat(until) > (now or datetime.now(UTC)):
        reason = node.get("pause_reason") or "too many jobs given back"
        notes += f"\n⏸ paused by the server: {reason}"
    reported = node.get("reported_state")
    if reported in ("paused", "stopped"):
        notes += f"\n⚠ the node says it {'is paused' if reported == 'paused' else 'stopped'}"
        if node.get("reported_reason"):
            notes += f": {node['reported_reason']}"
    return notes


def capabilities(runner: str, models: str, gpu: str, max_context_tokens: int) -> dict:
    by_runner = runner_kinds()
    wanted = ("llm", "clip") if runner == "both" else (runner,)
    kinds = sorted(kind for name in wanted for kind in by_runner.get(name, []))
    return {
        "kinds": kinds,
        "models": [model.strip() for model in models.split(",") if model.strip()],
        "gpu": gpu,
        "max_context_tokens": max_context_tokens,
    }


class VolunteerCog(
    commands.GroupCog, group_name="volunteer", group_description="Lend your machine to Alexandria"
):
    def __init__(self, bot: commands.Bot, api: AlexandriaClient):
        self.bot = bot
        self.api = api
        super().__init__()

    @app_commands.command(name="register", description="Register a worker node (token shown once)")
    @app_commands.describe(
        name="A name for this machine",
        runner="What it runs: text jobs through an LLM, CLIP scoring, or both",
        models="Models it serves, comma-separated",
        gpu="Its GPU, e.g. RTX 4090",
        max_context_tokens="Context length of its model",
    )
    @app_commands.choices(
        runner=[
            app_commands.Choice(name="LLM text jobs", value="llm"),
            app_commands.Choice(name="CLIP scoring", value="clip"),
            app_commands.Choice(name="Both", value="both"),
        ]
    )
    async def register(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        runner: str = "llm",
        models: str = "",
        gpu: str = "",
        max_context_tokens: app_commands.Range[int, 0, 10_000_000] = 0,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            node = await self.api.register_node(
                Actor.of(interaction.user),
                name=name,
                capabilities=capabilities(runner, models, gpu, max_context_tokens),
            )
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        command = node.get("start_command") or (
            f"alexandria-worker --server {self.api.base_url} --token {node['token']}"
        )
        await interaction.followup.send(
            limits.message(
                f"Node **{node['name']}** (#{node['id']}) is registered. Start it with:\n"
                f"```\n{command}\n```\nThis token is shown only now: keep it secret. "
                "If it leaks, revoke the node and register a new one."
            ),
            ephemeral=True,
        )

    @app_commands.command(name="status", description="Your worker nodes and their credit")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            nodes = await self.api.nodes(Actor.of(interaction.user))
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc)
            return
        if not nodes:
            await interaction.followup.send(
                "You have no worker nodes yet: /volunteer register adds one.", ephemeral=True
            )
            return
        embed = discord.Embed(title="Your worker nodes", colour=discord.Colour.blurple())
        for node in nodes:
            state = (
                "revoked"
                if node.get("revoked_at")
                else ("online" if node.get("online") else "offline")
            )
            flag = (
                f"\n⚠ flagged: {node.get('flag_reason') or 'under review'}"
                if node.get("is_flagged")
                else ""
            )
            embed.add_field(
                name=f"{node['name']} (#{node['id']}) · {state}",
                value=(
                    f"jobs {node.get('jobs_done', 0)} · credit {node.get('credit', '0')} · "
                    f"trust {float(node.get('trust', 0)):.2f} · "
                    f"gave back {node.get('releases', 0)}{flag}{health_notes(node)}"
                ),
                inline=False,
            )
        await interaction.followup.send(embed=limits.fit_embed(embed), ephemeral=True)
