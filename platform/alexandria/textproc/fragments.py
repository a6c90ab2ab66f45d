"""Anchor fragments: the few words an anchor keeps of its span, W3C Text Fragments style.

An anchor records its span's exact offsets and the SHA-256 of the span's text, and quotes at
most a few words at each end of it (``text_start``, ``text_end``: the ``textStart`` and
``textEnd`` of a text fragment link), so that a reader holding the original can find and
highlight the whole span while only those words are stored. A short span may be quoted whole
in ``text_start``, with ``text_end`` empty; a span may also be quoted not at all.

Two limits hold for every source, whatever its anchors span:

- no run of ``max_run_words`` or more consecutive source words is quoted, counting the quotes
  of all its anchors together wherever they overlap or touch (are adjacent in the source);
- the quoted words are at most ``max_quoted_share`` of the source's words (and, for fairness
  across a long text, of the words of the window an anchor was found in, when one is given).

`QuoteBudget` holds the word positions a source's anchors already quote and picks new
anchors' quotes within both limits, a word at a time and in turns so that anchors stored
together share the budget; a quote gets fewer words (down to none) rather than break a limit.
Words are those of the verbatim fingerprint (`textproc.shingles`): runs of letters and digits,
apostrophes and invisible joiners inside a word kept; a word partly quoted counts as quoted.
"""

import bisect
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote as percent_encode

from alexandria.textproc.shingles import WORD

__all__ = [
    "QUOTE_WORDS",
    "Fragment",
    "QuoteBudget",
    "anchor_verifies",
    "fragment_text",
    "quoted_ranges",
    "span_sha256",
    "text_fragment_url",
]

# How many words an anchor quotes at each end of its span, at most.
QUOTE_WORDS = 3
# What a citation shows between textStart and textEnd.
ELLIPSIS = " \u2026 "

# A text directive percent-encodes its syntax (",", "-", "&"); `percent_encode` leaves "-".
_DIRECTIVE_SYNTAX = str.maketrans({"-": "%2D"})


@dataclass(frozen=True, slots=True)
class Fragment:
    """What an anchor quotes: the start of its span and, for a longer span, its end."""

    text_start: str = ""
    text_end: str = ""


def span_sha256(span: str) -> str:
    """SHA-256 hex digest of a span of a source's normalised text (its UTF-8 bytes)."""
    return hashlib.sha256(span.encode("utf-8")).hexdigest()


def fragment_text(text_start: str, text_end: str) -> str:
    """The quote as a citation shows it: ``text_start … text_end`` (or what exists of it)."""
    return ELLIPSIS.join(part for part in (text_start, text_end) if part)


def quoted_ranges(start: int, end: int, text_start: str, text_end: str) -> list[tuple[int, int]]:
    """The character ranges of the source that an anchor's quote repeats."""
    ranges = []
    if text_start:
        ranges.append((start, start + len(text_start)))
    if text_end:
        ranges.append((end - len(text_end), end))
    return ranges


def anchor_verifies(
    text: str, start: int, end: int, digest: str, text_start: str, text_end: str
) -> bool:
    """True if the span's offsets and hash match `text` and the quote is the span's ends."""
    if not 0 <= start < end <= len(text):
        return False
    span = text[start:end]
    ends_match = span.startswith(text_start) and span.endswith(text_end)
    return span_sha256(span) == digest and ends_match and (bool(text_start) or not text_end)


def _directive_part(words: str) -> str:
    return percent_encode(" ".join(words.split()), safe="").translate(_DIRECTIVE_SYNTAX)


def text_fragment_url(url: str, text_start: str, text_end: str = "") -> str:
    """`url` with a text directive highlighting the span: ``#:~:text=start,end``.

    Whitespace runs become one space (as a browser renders them); the parts are percent-
    encoded, ``-``, ``,`` and ``&`` included. Without a quote the URL comes back unchanged.
    """
    if not url or not text_start.strip():
        return url
    directive = "text=" + _directive_part(text_start)
    if text_end.strip():
        directive += "," + _directive_part(text_end)
    return f"{url}{':~:' if '#' in url else '#:~:'}{directive}"


@dataclass
class _Quote:
    """A span being quoted: its words, and how many of them are quoted at each end."""

    start: int
    end: int
    words: range
    first: int = 0
    last: int = 0

    @property
    def whole(self) -> bool:
        return self.first + self.last >= len(self.words)


class QuoteBudget:
    """The words of one source its anchors quote, and what new anchors may quote."""

    def __init__(
        self,
        text: str,
        quoted: Iterable[tuple[int, int]] = (),
        *,
        max_run_words: int,
        max_quoted_share: float,
        quote_words: int = QUOTE_WORDS,
    ) -> None:
        self.text = text
        self.max_run_words = max_run_words
        self.max_quoted_share = max_quoted_share
        self.quote_words = quote_words
        # The fingerprint's words, matched on the stored (NFC) text so offsets stay exact.
        matches = list(WORD.finditer(text))
        self._starts = [m.start() for m in matches]
        self._ends = [m.end() for m in matches]
        self.limit = self._share_of(len(matches))
        self.quoted: set[int] = set()
        for start, end in quoted:
            self.quoted.update(self._words_in(start, end))

    def _share_of(self, words: int) -> int:
        return math.floor(self.max_quoted_share * words + 1e-9)

    def _words_in(self, start: int, end: int) -> range:
        """Indexes of the words overlapping the character range [start, end)."""
        return range(bisect.bisect_right(self._ends, start), bisect.bisect_left(self._starts, end))

    def quote(
        self, spans: Sequence[tuple[int, int]], window: tuple[int, int] | None = None
    ) -> list[Fragment]:
        """Quotes of new anchors' spans [start, end) within the limits, recorded as quoted.

        The quotes grow a word at a time, in turns (every span one word, then every span a
        second...), each at its start, then its end, up to `quote_words` at each end: when the
        budget runs out, every span has had its share. A span whose quotes would meet is quoted
        whole in ``text_start``. `window` (e.g. the chunk the anchors were found in) adds the
        share limit over that window's words, so that early anchors don't spend a long text's
        budget.
        """
        quotes = [_Quote(start, end, self._words_in(start, end)) for start, end in spans]
        room = None
        if window is not None:
            window_words = self._words_in(*window)
            taken = sum(1 for i in window_words if i in self.quoted)
            room = (window_words, self._share_of(len(window_words)) - taken)
        for _ in range(2 * self.quote_words):
            for quote in quotes:
                room = self._grow(quote, room)
        return [self._fragment(quote) for quote in quotes]

    def _grow(self, quote: _Quote, room: tuple[range, int] | None) -> tuple[range, int] | None:
        """Quote one more word of the span, at the end with fewer quoted (its start first); a
        quote of the end needs one of the start. Returns the window's remaining room."""
        sides = ("first", "last") if quote.first <= quote.last else ("last", "first")
        for side in sides:
            quoted = getattr(quote, side)
            if quote.whole or quoted >= self.quote_words or (side == "last" and not quote.first):
                continue
            word = quote.words[quoted] if side == "first" else quote.words[-1 - quoted]
            if word not in self.quoted:
                in_window = room is not None and word in room[0]
                if len(self.quoted) >= self.limit or (in_window and room[1] <= 0):
                    continue
                if self._run_through(word) >= self.max_run_words:
                    continue
                self.quoted.add(word)
                if in_window:
                    room = (room[0], room[1] - 1)
            setattr(quote, side, quoted + 1)
            return room
        return room

    def _run_through(self, word: int) -> int:
        """Length of the run of quoted words that quoting `word` would make."""
        low = high = word
        while low > 0 and low - 1 in self.quoted and high - low < self.max_run_words:
            low -= 1
        while high + 1 < len(self._starts) and high + 1 in self.quoted:
            high += 1
            if high - low >= self.max_run_words:
                break
        return high - low + 1

    def _fragment(self, quote: _Quote) -> Fragment:
        start, end, words = quote.start, quote.end, quote.words
        if not quote.first:
            return Fragment()
        if quote.whole:
            return Fragment(self.text[start:end])
        text_start = self.text[start : min(end, self._ends[words[quote.first - 1]])]
        text_end = (
            self.text[max(start, self._starts[words[-quote.last]]) : end] if quote.last else ""
        )
        return Fragment(text_start, text_end)
