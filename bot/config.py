"""The bot's configuration, from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

STATUS_NOTIFY_CHOICES = ("dm", "channel")


class ConfigError(Exception):
    """The environment is missing or has bad settings; the message lists all of them."""


@dataclass(frozen=True)
class BotConfig:
    discord_token: str
    api_url: str
    service_token: str
    mod_channel_id: int
    guild_ids: tuple[int, ...] = ()
    status_notify: str = "dm"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BotConfig:
        env = os.environ if environ is None else environ
        problems = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def snowflake(name: str, value: str) -> int:
            if value and not value.isdigit():
                problems.append(f"{name} must be a Discord id (digits), not {value!r}")
                return 0
            return int(value) if value else 0

        token = required("DISCORD_TOKEN")
        api_url = required("ALEXANDRIA_API_URL")
        if api_url and not api_url.startswith(("http://", "https://")):
            problems.append("ALEXANDRIA_API_URL must start with http:// or https://")
        service_token = required("BOT_SERVICE_TOKEN")
        mod_channel = snowflake("DISCORD_MOD_CHANNEL_ID", required("DISCORD_MOD_CHANNEL_ID"))
        guild_ids = tuple(
            snowflake("DISCORD_GUILD_IDS", part.strip())
            for part in env.get("DISCORD_GUILD_IDS", "").split(",")
            if part.strip()
        )
        notify = env.get("STATUS_NOTIFY", "dm").strip().lower() or "dm"
        if notify not in STATUS_NOTIFY_CHOICES:
            problems.append(f"STATUS_NOTIFY must be 'dm' or 'channel', not {notify!r}")
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(
            discord_token=token,
            api_url=api_url.rstrip("/"),
            service_token=service_token,
            mod_channel_id=mod_channel,
            guild_ids=guild_ids,
            status_notify=notify,
        )
