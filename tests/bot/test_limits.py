"""Content always fits Discord's limits, whatever the backend returns."""

import discord

from bot import limits


def test_truncate_marks_the_cut_and_keeps_short_text():
    assert limits.truncate("short", 10) == "short"
    cut = limits.truncate("x" * 50, 10)
    assert len(cut) == 10
    assert cut.endswith("…")


def test_fit_embed_respects_every_limit():
    embed = discord.Embed(title="t" * 1000, description="d" * 10_000)
    embed.set_author(name="a" * 1000)
    embed.set_footer(text="f" * 5000)
    for index in range(40):
        embed.add_field(name=f"n{index}" * 200, value="v" * 5000, inline=False)
    embed.add_field(name="empty", value="")
    limits.fit_embed(embed)
    assert len(embed) <= limits.EMBED_TOTAL_CHARS
    assert len(embed.title) <= limits.EMBED_TITLE_CHARS
    assert len(embed.description) <= limits.EMBED_DESCRIPTION_CHARS
    assert len(embed.fields) <= limits.EMBED_FIELDS
    for field in embed.fields:
        assert 0 < len(field.value) <= limits.EMBED_FIELD_VALUE_CHARS
        assert len(field.name) <= limits.EMBED_FIELD_NAME_CHARS
    # The embed is still valid to send.
    assert embed.to_dict()["title"].endswith("…")


def test_paginate_keeps_every_line_within_pages():
    lines = [f"line {n} " + "w" * 300 for n in range(30)] + ["z" * 5000]
    pages = limits.paginate(lines, 2000)
    assert all(len(page) <= 2000 for page in pages)
    assert sum(page.count("line ") for page in pages) == 30
    assert limits.paginate([]) == [""]


def test_choices_are_capped():
    assert len(limits.choices(list(range(100)))) == limits.AUTOCOMPLETE_CHOICES
