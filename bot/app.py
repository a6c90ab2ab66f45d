"""The bot itself: cogs, persistent review buttons, and answers to command errors."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.client import AlexandriaClient
from bot.cogs.apikey import ApiKeyCog
from bot.cogs.ask import AskCog
from bot.cogs.credit import CreditCog
from bot.cogs.moderation import ModerationCog
from bot.cogs.review import ReviewButton, ReviewCog
from bot.cogs.submit import SubmitCog
from bot.cogs.volunteer import VolunteerCog
from bot.config import BotConfig

log = logging.getLogger(__name__)


class AlexandriaTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CommandOnCooldown):
            message = replies.cooldown_message(error.retry_after)
        elif isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            log.exception("command failed", exc_info=error)
            message = "Something went wrong on my side; the team has been told."
        try:
            await replies.send_private(interaction, message)
        except discord.HTTPException:
            log.warning("could not tell the member about an error", exc_info=True)


class AlexandriaBot(commands.Bot):
    def __init__(
        self,
        config: BotConfig,
        api: AlexandriaClient | None = None,
        *,
        background_tasks: bool = True,
    ):
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            tree_cls=AlexandriaTree,
            # Posts carry member-chosen text (titles, questions): it pings no one. A post that
            # must ping someone names exactly who (the submitter of a source, say).
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.config = config
        # Off for one-shot runs (``sync``): the polling loops would wait for a gateway forever.
        self.background_tasks = background_tasks
        self.api = api or AlexandriaClient(config.api_url, config.service_token)

    def cogs_to_load(self) -> list[commands.Cog]:
        return [
            SubmitCog(self, self.api, status_notify=self.config.status_notify),
            ReviewCog(self, self.api),
            AskCog(self, self.api),
            VolunteerCog(self, self.api),
            CreditCog(self, self.api),
            ApiKeyCog(self, self.api),
            ModerationCog(self, self.api, mod_channel_id=self.config.mod_channel_id),
        ]

    async def setup_hook(self) -> None:
        for cog in self.cogs_to_load():
            await self.add_cog(cog)
            if self.background_tasks and hasattr(cog, "background_loops"):
                for loop in cog.background_loops():
                    loop.start()
        self.add_dynamic_items(ReviewButton)

    async def sync_commands(self, guild_ids: tuple[int, ...]) -> dict[str, int]:
        """Sync slash commands to each guild (instantly), or globally when none are given."""
        synced = {}
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced[str(guild_id)] = len(await self.tree.sync(guild=guild))
        if not guild_ids:
            synced["global"] = len(await self.tree.sync())
        return synced

    async def close(self) -> None:
        await super().close()
        await self.api.aclose()
