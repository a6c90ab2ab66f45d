"""The prose of a Markdown document, markup dropped, in time linear in its length.

Uploads are hostile input: a pattern that rescans the rest of a line from every delimiter
(``\\*(.+?)\\*`` over ``_a _a _a …``) takes hours on a 2 MiB file. So every pattern here either
has a character class that excludes its own opening delimiter (attempts from different
delimiters then scan disjoint stretches of the line) or is replaced by a scan that pairs
each delimiter with the nearest closer found through a forward-only cursor.
"""

import re

from alexandria.textproc.normalize import normalize_text

__all__ = ["markdown_text"]

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+|$)")
_CLOSING_HASHES = re.compile(r"[ \t]#+\Z")
_SETEXT_OR_RULE = re.compile(r" {0,3}(?:=+|-{3,}|\*{3,}|_{3,}|(?:[-*_] ){2,}[-*_])[ \t]*\Z")
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]]++\]:\s+\S")
_BLOCKQUOTE = re.compile(r" {0,3}(?:> ?)+")
_BULLET = re.compile(r"(\s*+)[-*+][ \t]+")
# Labels and targets exclude the bracket that opens them, so no attempt runs past the next one.
_IMAGE = re.compile(r"!\[([^\[\]]*+)\]\([^()\[\]]*+\)")
_LINK = re.compile(r"\[([^\[\]]++)\](?:\([^()\[\]]*+\)|\[[^\[\]]*+\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]++)>")
_BACKTICKS = re.compile(r"`+")


def markdown_text(markdown: str) -> tuple[str, str | None]:
    """Keep the prose of Markdown, dropping markup; fenced code is kept verbatim as text."""
    lines: list[str] = []
    title = None
    fence: str | None = None
    for line in markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
                lines.append("")
            else:
                lines.append(line)
            continue
        if opening:
            fence = opening.group(1)
            lines.append("")
            continue
        if _SETEXT_OR_RULE.match(line) or _REFERENCE_DEFINITION.match(line):
            lines.append("")
            continue
        quote = _BLOCKQUOTE.match(line)
        line = line[quote.end() :] if quote else line
        bullet = _BULLET.match(line)
        line = bullet.group(1) + line[bullet.end() :] if bullet else line
        heading = _HEADING.match(line)
        if heading:
            line = _inline(_heading_content(line[heading.end() :]))
            if title is None and line.strip() and heading.group(1) == "#":
                title = " ".join(normalize_text(line).split())
            lines.extend(["", line, ""])
            continue
        lines.append(_inline(line))
    return "\n".join(lines), title


def _heading_content(rest: str) -> str:
    """An ATX heading's text without its optional closing run of ``#``."""
    rest = rest.rstrip(" \t")
    return _CLOSING_HASHES.sub("", rest).rstrip(" \t")


def _inline(line: str) -> str:
    """A line without inline markup; code spans first, so markup inside them stays."""
    pieces = []
    position = 0
    for start, end, content_start, content_end in _code_spans(line):
        pieces.append(_inline_markup(line[position:start]))
        pieces.append(line[content_start:content_end].strip())
        position = end
    pieces.append(_inline_markup(line[position:]))
    return "".join(pieces)


def _code_spans(line: str) -> list[tuple[int, int, int, int]]:
    """Code spans as (start, end, content start, content end): a run of backticks closes at
    the next run of the same length (CommonMark)."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(line)]
    following: list[int | None] = [None] * len(runs)
    last_of_length: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        following[index] = last_of_length.get(length)
        last_of_length[length] = index
    spans = []
    index = 0
    while index < len(runs):
        closer = following[index]
        if closer is None:
            index += 1
            continue
        (start, content_start), (content_end, end) = runs[index], runs[closer]
        spans.append((start, end, content_start, content_end))
        index = closer + 1
    return spans


def _inline_markup(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    for delimiter, flanking in (("**", False), ("__", False), ("~~", False), ("*", False)):
        text = _unwrap(text, delimiter, flanking=flanking)
    return _unwrap(text, "_", flanking=True)


def _unwrap(text: str, delimiter: str, *, flanking: bool) -> str:
    """Drop each pair of ``delimiter`` around text that starts and ends with a non-space,
    pairing an opener with the nearest closer, left to right (what a lazy ``(.+?)`` between
    the delimiters matches). ``flanking``: the delimiters may not touch a word character on
    their outer side (``snake_case`` stays).

    Linear: closers are listed once, and the cursor into them only moves forward.
    """
    width = len(delimiter)
    length = len(text)
    closers = [
        at
        for at in _occurrences(text, delimiter)
        if at > 0
        and not text[at - 1].isspace()
        and not (flanking and at + width < length and _is_word(text[at + width]))
    ]
    pieces = []
    kept = 0  # text[:kept] is already in pieces
    cursor = 0
    at = text.find(delimiter)
    while at != -1:
        content = at + width
        opens = (
            content < length
            and not text[content].isspace()
            and not (flanking and at > 0 and _is_word(text[at - 1]))
        )
        if opens:
            while cursor < len(closers) and closers[cursor] <= content:
                cursor += 1
            if cursor == len(closers):
                break  # no closer lies beyond this opener, so none beyond a later one
            closer = closers[cursor]
            pieces.append(text[kept:at])
            pieces.append(text[content:closer])
            kept = closer + width
            at = text.find(delimiter, kept)
        else:
            at = text.find(delimiter, at + 1)
    pieces.append(text[kept:])
    return "".join(pieces)


def _occurrences(text: str, delimiter: str) -> list[int]:
    """Every position where ``delimiter`` starts, overlapping ones included."""
    found = []
    at = text.find(delimiter)
    while at != -1:
        found.append(at)
        at = text.find(delimiter, at + 1)
    return found


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"
