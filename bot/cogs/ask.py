"""/ask: grounded answers, one result per page, every claim with its exact source position
(offsets, the words kept of the passage, a highlighting link and the hashes that verify it).

When the server's LLM wrote a summary it comes first, with the items it cites and their
sources; every supporting, contradicting, related and instruction item lists its own. Figures
whose image matches the question come last: their captions, pages and sources (no image)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import limits, replies
from bot.citations import LINE_FRAGMENT_CHARS, LINE_TITLE_CHARS, citation_field, citation_line
from bot.client import Actor, AlexandriaClient, AlexandriaError

# Minimum reader age the backend rates sources with (0, 6, 12, 16, 18). Discord's members are
# 13+; age-restricted (NSFW) channels are 18+.
SAFE_CHANNEL_MAX_AGE = 12
NSFW_CHANNEL_MAX_AGE = 18
PAGE_TIMEOUT_S = 600
MAX_LISTED = 5
MAX_CITATIONS_PER_ITEM = 2
MAX_MAIN_CITATIONS = 3
MAX_SUMMARY_CITED = 10
MAX_FIGURES = 5
ITEM_TEXT_CHARS = 300
GROUPS = (
    ("pro", "Supporting"),
    ("contra", "Contradicting"),
    ("related", "Related"),
    ("instructions", "Instructions"),
)
# Stored text is echoed: it must never ping anyone.
NO_MENTIONS = discord.AllowedMentions.none()


def channel_max_age(channel) -> int:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return NSFW_CHANNEL_MAX_AGE if callable(is_nsfw) and is_nsfw() else SAFE_CHANNEL_MAX_AGE


def _citation_lines(sources: list[dict]) -> list[str]:
    lines = [f"\N{RIGHTWARDS ARROW WITH HOOK} {citation_line(s)}" for s in sources]
    if len(lines) > MAX_CITATIONS_PER_ITEM:
        extra = len(lines) - MAX_CITATIONS_PER_ITEM
        lines = [
            *lines[:MAX_CITATIONS_PER_ITEM],
            f"\N{RIGHTWARDS ARROW WITH HOOK} …and {extra} more",
        ]
    return lines or ["\N{RIGHTWARDS ARROW WITH HOOK} *(no citation)*"]


def _item_block(item: dict) -> str:
    """An item as a bullet, with its citations under it."""
    text = limits.truncate(item["text"], ITEM_TEXT_CHARS)
    head = f"• {text} *(#{item['id']}, {item['status']})*"
    return "\n".join([head, *_citation_lines(item.get("sources") or [])])


def _fit_blocks(blocks: list[str], *, unlisted: int = 0) -> str:
    """As many whole blocks as fit an embed field, then how many were left out (``unlisted``
    more were never offered); a first block too long on its own is cut."""
    limit = limits.EMBED_FIELD_VALUE_CHARS
    shown: list[str] = []
    for n, block in enumerate(blocks):
        left = len(blocks) - n - 1 + unlisted
        note = f"\n…and {left} more" if left else ""
        if len("\n".join([*shown, block])) + len(note) <= limit:
            shown.append(block)
        elif shown:
            return "\n".join(shown) + f"\n…and {left + 1} more"
        else:
            shown.append(limits.truncate(block, limit - len(note)))
    return "\n".join(shown) + (f"\n…and {unlisted} more" if unlisted else "")


def _bullets(items: list[dict]) -> str:
    blocks = [_item_block(item) for item in items[:MAX_LISTED]]
    return _fit_blocks(blocks, unlisted=max(len(items) - MAX_LISTED, 0))


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
    # The claim's own evidence first: what does not fit the embed is dropped from the end.
    sources = _main_sources(result)
    for source in sources[:MAX_MAIN_CITATIONS]:
        name, value = citation_field(source, source.get("title") or "Source")
        embed.add_field(name=name, value=value, inline=False)
    if len(sources) > MAX_MAIN_CITATIONS:
        more = [citation_line(source) for source in sources[MAX_MAIN_CITATIONS:]]
        embed.add_field(name="More sources", value=_fit_blocks(more), inline=False)
    for key, title in GROUPS:
        if result.get(key):
            embed.add_field(name=title, value=_bullets(result[key]), inline=False)
    embed.set_footer(
        text=f"Result {index + 1} of {total} · status {item['status']} · score "
        f"{result.get('score', 0):.2f}"
    )
    return limits.fit_embed(embed)


def _main_sources(result: dict) -> list[dict]:
    return result.get("sources") or result["item"].get("sources") or []


def _listed_items(results: list[dict]) -> dict[int, dict]:
    """Every item an answer lists (main results and their neighbours), by id, with sources."""
    listed: dict[int, dict] = {}
    for result in results:
        listed.setdefault(
            result["item"]["id"], {**result["item"], "sources": _main_sources(result)}
        )
        for key, _ in GROUPS:
            for item in result.get(key) or []:
                listed.setdefault(item["id"], item)
    return listed


def summary_embed(query: str, summary: dict, results: list[dict]) -> discord.Embed:
    """The summary, then each item it cites with the sources under it."""
    embed = discord.Embed(
        title="Summary", description=summary["text"], colour=discord.Colour.blurple()
    )
    embed.set_author(name=f"Ask: {query}")
    listed = _listed_items(results)
    cited = list(dict.fromkeys(summary.get("cited_item_ids") or []))
    for item_id in cited[:MAX_SUMMARY_CITED]:
        item = listed.get(item_id)
        if item is None:
            embed.add_field(name=f"Cited #{item_id}", value="*(not among the results)*")
            continue
        kind = item.get("kind", "item")
        embed.add_field(
            name=f"Cited #{item_id} · {kind}, {item['status']}",
            value=_fit_blocks([_item_block(item)]),
            inline=False,
        )
    if len(cited) > MAX_SUMMARY_CITED:
        embed.add_field(
            name="More cited items", value=f"…and {len(cited) - MAX_SUMMARY_CITED} more"
        )
    embed.set_footer(text=f"Summary of the {len(results)} results on the next pages")
    return limits.fit_embed(embed)


def _figure_block(figure: dict) -> str:
    """A figure as a bullet: its source, page and number, the caption's offsets, the words kept
    of it and its highlighting link, then the source's page."""
    source = figure["source"]
    where = source.get("title") or source.get("url") or f"Source #{source['id']}"
    page = f"p. {figure['page']}, " if figure.get("page") else ""
    line = f"• {limits.truncate(where, LINE_TITLE_CHARS)}, {page}figure {figure['index'] + 1}"
    caption = figure.get("caption")
    if caption:
        line += f" [{caption['start']}:{caption['end']}]"
        fragment = limits.truncate(caption.get("fragment") or "", LINE_FRAGMENT_CHARS)
        if fragment:
            line += f" \N{LEFT DOUBLE QUOTATION MARK}{fragment}\N{RIGHT DOUBLE QUOTATION MARK}"
        if caption.get("link"):
            line += f" <{caption['link']}>"
    return f"{line}\n\N{RIGHTWARDS ARROW WITH HOOK} source page <{figure['source_page']}>"


def figures_embed(query: str, figures: list[dict]) -> discord.Embed:
    """The figures whose image matches the question, cited by caption and page."""
    embed = discord.Embed(
        title="Figures",
        description="Figures whose image matches the question (CLIP). Alexandria keeps no "
        "image: each is cited by its caption and page.",
        colour=discord.Colour.gold(),
    )
    embed.set_author(name=f"Ask: {query}")
    blocks = [_figure_block(figure) for figure in figures[:MAX_FIGURES]]
    value = _fit_blocks(blocks, unlisted=max(len(figures) - MAX_FIGURES, 0))
    embed.add_field(name="Matching figures", value=value, inline=False)
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
        include_pending="Also show statements still awaiting review (labelled as such)",
        language="Only sources in this language (ISO 639-1 code, e.g. de, en, fr)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 300],
        layer: app_commands.Range[int, 1, 10] | None = None,
        include_pending: bool = False,
        language: app_commands.Range[str, 2, 16] | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        language = language.strip().casefold() if language else None
        try:
            answer = await self.api.ask(
                Actor.of(interaction.user),
                query,
                layer=layer,
                min_status="pending" if include_pending else "accepted",
                max_age_rating=channel_max_age(interaction.channel),
                language=language,
            )
        except AlexandriaError as exc:
            await replies.send_error(interaction, exc, public_deferral=True)
            return
        results = answer.get("results", [])
        figures = answer.get("figures") or []
        if not results and not figures:
            within = f" in sources of language “{language}”" if language else ""
            await interaction.followup.send(
                limits.message(f"Alexandria has no grounded answer for “{query}”{within} yet."),
                allowed_mentions=NO_MENTIONS,
            )
            return
        pages = [result_embed(query, result, i, len(results)) for i, result in enumerate(results)]
        if answer.get("summary") and answer["summary"].get("text"):
            pages.insert(0, summary_embed(query, answer["summary"], results))
        if figures:
            pages.append(figures_embed(query, figures))
        if len(pages) == 1:
            await interaction.followup.send(embed=pages[0], allowed_mentions=NO_MENTIONS)
            return
        await interaction.followup.send(
            embed=pages[0], view=Pages(pages, interaction.user.id), allowed_mentions=NO_MENTIONS
        )
