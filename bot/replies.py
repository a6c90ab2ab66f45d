"""What members read when something goes wrong, and sending it the right way."""

from __future__ import annotations

import logging
import math

import discord

from bot import limits
from bot.client import (
    AlexandriaError,
    BackendUnreachable,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    ServerError,
    ServiceAuthFailed,
    Throttled,
)

log = logging.getLogger(__name__)

TROUBLE = "Alexandria is having trouble right now, try again in a few minutes."


def _seconds(value: float) -> str:
    seconds = max(math.ceil(value), 1)
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _field_errors(errors) -> str:
    if not isinstance(errors, dict):
        return ""
    parts = []
    for field, messages in errors.items():
        if isinstance(messages, list):
            messages = "; ".join(str(message) for message in messages)
        parts.append(f"{field}: {messages}")
    return " (" + ", ".join(parts) + ")" if parts else ""


def describe(exc: AlexandriaError) -> str:
    """One clear sentence (or two) for the member."""
    if isinstance(exc, Forbidden) and exc.banned:
        return "You are banned from Alexandria, so this can't be done."
    if isinstance(exc, Forbidden):
        return f"Not allowed: {exc.detail}"
    if isinstance(exc, Throttled):
        when = f" Try again in {_seconds(exc.retry_after)}." if exc.retry_after else ""
        return f"You're going a bit fast.{when}"
    if isinstance(exc, PayloadTooLarge):
        return f"That's too large: {exc.detail}"
    if isinstance(exc, InvalidRequest):
        return f"That didn't work: {exc.detail}{_field_errors(exc.errors)}"
    if isinstance(exc, ServerError | BackendUnreachable | ServiceAuthFailed):
        log.warning("backend trouble: %s", exc)
        return TROUBLE
    return exc.detail


async def send_private(interaction: discord.Interaction, content: str, **kwargs) -> None:
    """Answer only the member: the first response, or a followup once answered/deferred."""
    content = limits.message(content)
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)


async def send_error(
    interaction: discord.Interaction, exc: AlexandriaError, *, public_deferral: bool = False
) -> None:
    """Tell only the member what went wrong.

    After a public deferral the first followup would inherit its visibility, so the public
    "thinking…" message is removed first and the error follows privately.
    """
    if public_deferral:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.info("could not remove the deferred response", exc_info=True)
    await send_private(interaction, describe(exc))


def cooldown_message(retry_after: float) -> str:
    return f"Easy there! You can do that again in {_seconds(retry_after)}."
