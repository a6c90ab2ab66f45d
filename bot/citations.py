"""How a cited span reads in an embed: where it is, the words Alexandria keeps of it, a link
that highlights it in the source, and the hashes that verify it against the original."""

from __future__ import annotations

NO_QUOTE = "*(no words of this passage are kept: its offsets and hash find it)*"


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
