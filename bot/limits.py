"""Discord's size limits, and the one place that makes content fit them (never fail)."""

from collections.abc import Iterable, Sequence

import discord

MESSAGE_CHARS = 2000
EMBED_TOTAL_CHARS = 6000
EMBED_TITLE_CHARS = 256
EMBED_DESCRIPTION_CHARS = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME_CHARS = 256
EMBED_FIELD_VALUE_CHARS = 1024
EMBED_FOOTER_CHARS = 2048
EMBED_AUTHOR_CHARS = 256
AUTOCOMPLETE_CHOICES = 25
BUTTON_LABEL_CHARS = 80
MODAL_TITLE_CHARS = 45
TEXT_INPUT_CHARS = 4000
ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when anything was cut."""
    text = str(text)
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS[: max(limit, 0)]


def message(text: str) -> str:
    return truncate(text, MESSAGE_CHARS)


def field_value(text: str) -> str:
    """A field value: never empty (Discord refuses that), never too long."""
    return truncate(text, EMBED_FIELD_VALUE_CHARS) if str(text).strip() else "—"


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Trim every part of ``embed`` to its limit, then the whole to 6000 characters."""
    if embed.title:
        embed.title = truncate(embed.title, EMBED_TITLE_CHARS)
    if embed.description:
        embed.description = truncate(embed.description, EMBED_DESCRIPTION_CHARS)
    if embed.author and embed.author.name:
        embed.set_author(
            name=truncate(embed.author.name, EMBED_AUTHOR_CHARS),
            url=embed.author.url,
            icon_url=embed.author.icon_url,
        )
    if embed.footer and embed.footer.text:
        embed.set_footer(
            text=truncate(embed.footer.text, EMBED_FOOTER_CHARS), icon_url=embed.footer.icon_url
        )
    fields = embed.fields[:EMBED_FIELDS]
    embed.clear_fields()
    for field in fields:
        embed.add_field(
            name=truncate(field.name or "—", EMBED_FIELD_NAME_CHARS),
            value=field_value(field.value or ""),
            inline=bool(field.inline),
        )
    # Over the total: shorten the description first, then drop fields from the end.
    excess = len(embed) - EMBED_TOTAL_CHARS
    if excess > 0 and embed.description:
        keep = max(len(embed.description) - excess, 100)
        embed.description = truncate(embed.description, keep)
    while len(embed) > EMBED_TOTAL_CHARS and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > EMBED_TOTAL_CHARS and embed.description:
        embed.description = truncate(
            embed.description, max(len(embed.description) - (len(embed) - EMBED_TOTAL_CHARS), 1)
        )
    return embed


def paginate(lines: Iterable[str], limit: int = MESSAGE_CHARS) -> list[str]:
    """Join lines into pages of at most ``limit`` characters; an overlong line is cut."""
    pages: list[str] = []
    current = ""
    for line in lines:
        line = truncate(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pages.append(current)
            current = line
        else:
            current = candidate
    if current or not pages:
        pages.append(current)
    return pages


def choices(items: Sequence) -> list:
    """At most the 25 choices Discord shows."""
    return list(items[:AUTOCOMPLETE_CHOICES])
