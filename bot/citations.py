"""How a cited span reads in an embed: where it is, the words Alexandria keeps of it, a link
that highlights it in the source, and the hashes that verify it against the original."""

from __future__ import annotations

from bot.limits import truncate

NO_QUOTE = "*(no words of this passage are kept: its offsets and hash find it)*"
LINE_FRAGMENT_CHARS = 150
LINE_TITLE_CHARS = 100


def citation_field(citation: dict, title: str) -> tuple[str, str]:
    """(name, value) of an embed field for one citation of the API (an /ask source or a
    review task's anchor)."""
    name = f"{title} · chars {citation['start']}\N{EN DASH}{citation['end']}"
    lines = [f"> {citation['fragment']}" if citation["fragment"] else NO_QUOTE]
    if citation["link"]:
        lines.append(f"<{citation['link']}>")
    lines.append(
        f"span sha256 `{citation['span_sha256']}` · source sha256 `{citation['source_sha256']}`"
    )
    return name, "\n".join(lines)


def citation_line(citation: dict) -> str:
    """One line for a citation listed under an item: the source (title, else URL), the span's
    offsets, the words kept of it and the link that highlights it."""
    where = citation.get("title") or citation.get("url") or f"Source #{citation['source_id']}"
    line = f"{truncate(where, LINE_TITLE_CHARS)} [{citation['start']}:{citation['end']}]"
    fragment = truncate(citation.get("fragment") or "", LINE_FRAGMENT_CHARS)
    if fragment:
        line += f" \N{LEFT DOUBLE QUOTATION MARK}{fragment}\N{RIGHT DOUBLE QUOTATION MARK}"
    if citation.get("link"):
        line += f" <{citation['link']}>"
    return line
