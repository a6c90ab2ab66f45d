"""Locate an extracted fact's ANCHOR (a short quote) at exact character offsets in its source.

Grounding depends on this: a fact is kept only if its anchor is found here. Strategies, in
order of trust:

1. ``exact``: ``str.find``; with a hint window (the chunk the fact came from) the occurrence
   inside the window wins, otherwise the one nearest to it.
2. ``tolerant``: equality after folding case, whitespace runs, quote and dash styles, soft
   hyphens and hyphenation across line breaks. The folded view of the source keeps a map back
   to original offsets, so returned offsets are exact offsets in the source.
3. ``fuzzy``: rapidfuzz partial-ratio alignment on the folded views (hint window first, then
   the whole text), refined to word boundaries and accepted only if the refined
   ``fuzz.ratio`` between the anchor and the span found reaches the threshold.

Anchors longer than ``max_len`` are located whole and the match is then trimmed to at most
``max_len`` characters: the longest run of whole sentences from its start that fits, or, if
even the first sentence is longer, a cut at the last whitespace within the limit.

Every `AnchorMatch` satisfies ``source[m.start:m.end] == m.span_text`` and
``0 <= m.start < m.end <= len(source)``.
"""

import bisect
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Literal

from rapidfuzz import fuzz

from alexandria.textproc.segment import split_sentences

__all__ = [
    "MIN_ANCHOR_CHARS",
    "AnchorMatch",
    "AnchorRejection",
    "SourceIndex",
    "fold_text",
    "locate_anchor",
]

MIN_ANCHOR_CHARS = 3
# Below this length a fuzzy match is too likely to be a coincidence; short anchors must match
# exactly or tolerantly.
FUZZY_MIN_CHARS = 16

_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "to", "for", "from",
    "by", "with", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this",
    "that", "these", "those", "he", "she", "they", "we", "you", "i", "me", "him", "her", "them",
    "us", "his", "their", "our", "your", "my", "not", "no", "so", "if", "then", "than", "there",
    "here", "which", "who", "whom", "what", "when", "where", "why", "how", "all", "any", "some"
})  # fmt: skip

_CHAR_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\uff02", '"'),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2039\u203a\u2032`", "'"),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        "\u2026": "...",
    }
)
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u00ad"
_LETTER = r"[^\W\d_]"
_WHITESPACE = re.compile(r"\s+")
# Spans the folded view rewrites: a hyphen between letters (optionally followed by a line
# break, i.e. end-of-line hyphenation) is dropped; whitespace runs become one space (a lone
# space already is one and stays on the fast plain path); invisible characters (soft hyphen,
# zero-width spaces and joiners, BOM) are dropped.
_FOLD_SPECIALS = re.compile(
    rf"(?P<hyphen>(?<={_LETTER})[{_DASHES}](?:[^\S\n]*\n\s*)?(?={_LETTER}))"
    r"|(?P<space> ?[^\S ]\s*| {2,}\s*)"
    r"|(?P<invisible>[\u00ad\u200b-\u200d\u2060\ufeff]+)"
)


def fold_text(text: str) -> tuple[str, list[int]]:
    """Return the tolerant view of `text` and, per view character, its offset in `text`.

    The offsets are non-decreasing, so a view span [i, j) maps back to the original span
    [origin[i], origin[j - 1] + 1).
    """
    view: list[str] = []
    origin: list[int] = []
    position = 0
    for special in _FOLD_SPECIALS.finditer(text):
        _fold_plain(text, position, special.start(), view, origin)
        if special.lastgroup == "space":
            view.append(" ")
            origin.append(special.start())
        position = special.end()
    _fold_plain(text, position, len(text), view, origin)
    return "".join(view), origin


def _fold_plain(text: str, start: int, end: int, view: list[str], origin: list[int]) -> None:
    if start >= end:
        return
    segment = text[start:end]
    folded = segment.translate(_CHAR_FOLD).casefold()
    if len(folded) == len(segment):
        view.append(folded)
        origin.extend(range(start, end))
        return
    for offset, char in enumerate(segment):  # a character folded to several (ß -> ss, …)
        piece = char.translate(_CHAR_FOLD).casefold()
        view.append(piece)
        origin.extend([start + offset] * len(piece))


@dataclass(frozen=True, slots=True)
class AnchorMatch:
    """A located anchor; `span_text` is exactly ``source[start:end]`` (what the model quoted,
    verified; an anchor stores only a few words of it, see ``textproc.fragments``).

    `outside_window` is set when a hint window was given and the match is not inside it (the
    caller decides whether to accept that). `occurrences` counts the candidate occurrences
    the winning strategy found; `trimmed` says an over-long anchor was cut to `max_len`.
    """

    start: int
    end: int
    span_text: str
    method: Literal["exact", "tolerant", "fuzzy"]
    score: float
    outside_window: bool = False
    occurrences: int = 1
    trimmed: bool = False


@dataclass(frozen=True, slots=True)
class AnchorRejection:
    """Why an anchor could not be grounded; `best_score` is the best fuzzy score seen."""

    reason: Literal["empty", "too_short", "not_found", "below_threshold"]
    message: str
    best_score: float | None = None


class SourceIndex:
    """Precomputed lookups over one source text, reused for every anchor of that source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._view: str | None = None
        self._origin: list[int] = []

    def _tolerant_view(self) -> tuple[str, list[int]]:
        if self._view is None:
            self._view, self._origin = fold_text(self.source)
        return self._view, self._origin

    def locate(
        self,
        anchor: str,
        *,
        hint_start: int | None = None,
        hint_end: int | None = None,
        max_len: int = 200,
        fuzzy_threshold: float = 90,
    ) -> AnchorMatch | AnchorRejection:
        """Locate `anchor` in the source; see the module docstring for the strategy."""
        quote = unicodedata.normalize("NFC", anchor).strip()
        if not quote:
            return AnchorRejection("empty", "The anchor is empty.")
        words = re.findall(r"\w+", quote)
        if sum(len(w) for w in words) < MIN_ANCHOR_CHARS or (
            len(words) == 1 and words[0].casefold() in _STOPWORDS
        ):
            return AnchorRejection(
                "too_short", f"The anchor {quote!r} is too short to locate unambiguously."
            )
        window = _window(hint_start, hint_end, len(self.source))
        match = self._find(quote, window, fuzzy_threshold)
        if isinstance(match, AnchorMatch) and len(quote) > max_len:
            return self._trim(match, max_len, window)
        return match

    def _find(
        self, quote: str, window: tuple[int, int] | None, threshold: float
    ) -> AnchorMatch | AnchorRejection:
        exact = _occurrences(self.source, quote)
        exact_spans = [(s, s + len(quote)) for s in exact]
        best_exact = _nearest(exact_spans, window)
        if best_exact is not None and best_exact[1] == 0:
            return self._match(best_exact[0], "exact", 100.0, window, len(exact_spans))

        view, origin = self._tolerant_view()
        folded_quote = fold_text(quote)[0].strip()
        tolerant_spans = [
            (origin[i], origin[i + len(folded_quote) - 1] + 1)
            for i in _occurrences(view, folded_quote)
        ]
        best_tolerant = _nearest(tolerant_spans, window)
        if best_tolerant is not None and best_tolerant[1] == 0:
            return self._match(best_tolerant[0], "tolerant", 100.0, window, len(tolerant_spans))
        if best_exact is not None:
            return self._match(best_exact[0], "exact", 100.0, window, len(exact_spans))
        if best_tolerant is not None:
            return self._match(best_tolerant[0], "tolerant", 100.0, window, len(tolerant_spans))

        if len(folded_quote) < FUZZY_MIN_CHARS:
            return AnchorRejection(
                "not_found",
                "The anchor does not occur in the source text (too short to "
                "try an approximate match).",
            )
        best_score = 0.0
        regions = [(0, len(view))]
        if window is not None:
            pad = len(folded_quote)
            regions.insert(
                0,
                (
                    bisect.bisect_left(origin, window[0] - pad),
                    bisect.bisect_left(origin, window[1] + pad),
                ),
            )
        for region in regions:
            span, score = self._fuzzy(folded_quote, region, threshold)
            best_score = max(best_score, score)
            if span is not None:
                return self._match(span, "fuzzy", score, window, 1)
        return AnchorRejection(
            "below_threshold",
            f"No passage of the source matches the anchor closely enough "
            f"(best similarity {best_score:.0f}, need {threshold:.0f}).",
            best_score=best_score,
        )

    def _fuzzy(
        self, quote: str, region: tuple[int, int], threshold: float
    ) -> tuple[tuple[int, int] | None, float]:
        """Best word-aligned view span in `region` resembling `quote`, mapped to the source."""
        view, origin = self._tolerant_view()
        region_start, region_end = region
        # partial_ratio aligns the shorter string inside the longer one: keep the region longer.
        region_start = max(0, min(region_start, region_end - len(quote)))
        region_view = view[region_start:region_end]
        if len(region_view) < len(quote):
            return None, 0.0
        alignment = fuzz.partial_ratio_alignment(quote, region_view)
        if alignment is None or alignment.score < threshold:
            return None, alignment.score if alignment else 0.0
        aligned_start = region_start + alignment.dest_start
        aligned_end = region_start + alignment.dest_end
        slack = max(8, len(quote) // 4)
        starts = _word_starts(view, aligned_start - slack, aligned_start + slack)
        starts.add(_word_start_at_or_before(view, aligned_start))
        ends = _word_ends(view, aligned_end - slack, aligned_end + slack)
        ends.add(_word_end_at_or_after(view, aligned_end))
        best: tuple[float, int, int] | None = None
        for start in sorted(starts):  # sorted: ties go to the earliest, shortest span
            for end in sorted(ends):
                if end > start:
                    score = fuzz.ratio(quote, view[start:end])
                    if best is None or score > best[0]:
                        best = (score, start, end)
        if best is None or best[0] < threshold:
            return None, best[0] if best else 0.0
        score, start, end = best
        return (origin[start], origin[end - 1] + 1), score

    def _match(
        self,
        span: tuple[int, int],
        method: Literal["exact", "tolerant", "fuzzy"],
        score: float,
        window: tuple[int, int] | None,
        occurrences: int,
    ) -> AnchorMatch:
        start, end = span
        return AnchorMatch(
            start=start,
            end=end,
            span_text=self.source[start:end],
            method=method,
            score=score,
            outside_window=window is not None and _distance(span, window) > 0,
            occurrences=occurrences,
        )

    def _trim(
        self, match: AnchorMatch, max_len: int, window: tuple[int, int] | None
    ) -> AnchorMatch:
        """Cut a long match to whole leading sentences, else to a word, within `max_len`."""
        if match.end - match.start <= max_len:
            return match
        end = match.start
        for sentence in split_sentences(match.span_text):
            if sentence.end > max_len:
                break
            end = match.start + sentence.end
        if end == match.start:
            limit = match.start + max_len
            spaces = _WHITESPACE.finditer(self.source, match.start + 1, limit + 1)
            end = max((space.start() for space in spaces), default=limit)
        return replace(
            match,
            end=end,
            span_text=self.source[match.start : end],
            outside_window=window is not None and _distance((match.start, end), window) > 0,
            trimmed=True,
        )


def locate_anchor(
    source: str,
    anchor: str,
    *,
    hint_start: int | None = None,
    hint_end: int | None = None,
    max_len: int = 200,
    fuzzy_threshold: float = 90,
) -> AnchorMatch | AnchorRejection:
    """Locate one anchor; for many anchors in one source build a `SourceIndex` once."""
    return SourceIndex(source).locate(
        anchor,
        hint_start=hint_start,
        hint_end=hint_end,
        max_len=max_len,
        fuzzy_threshold=fuzzy_threshold,
    )


def _window(start: int | None, end: int | None, length: int) -> tuple[int, int] | None:
    if start is None and end is None:
        return None
    lo = max(0, min(length, start if start is not None else 0))
    hi = max(lo, min(length, end if end is not None else length))
    return lo, hi


def _occurrences(text: str, needle: str) -> list[int]:
    """Start offsets of every (possibly overlapping) occurrence of `needle` in `text`."""
    found = []
    if not needle:
        return found
    position = text.find(needle)
    while position != -1:
        found.append(position)
        position = text.find(needle, position + 1)
    return found


def _distance(span: tuple[int, int], window: tuple[int, int]) -> int:
    """How many characters of `span` lie outside `window` (0: fully inside)."""
    return max(0, window[0] - span[0]) + max(0, span[1] - window[1])


def _nearest(
    spans: list[tuple[int, int]], window: tuple[int, int] | None
) -> tuple[tuple[int, int], int] | None:
    """The span nearest the window (earliest on ties, first without a window), and distance."""
    if not spans:
        return None
    if window is None:
        return spans[0], 0
    best = min(spans, key=lambda span: (_distance(span, window), span[0]))
    return best, _distance(best, window)


def _word_starts(view: str, lo: int, hi: int) -> set[int]:
    """Word starts in [lo, hi], each also without its leading punctuation ("(word" -> "word")."""
    starts = set()
    for p in range(max(0, lo), min(len(view) - 1, hi) + 1):
        if view[p] != " " and (p == 0 or view[p - 1] == " "):
            starts.add(p)
            inner = p
            while inner < len(view) - 1 and not view[inner].isalnum() and view[inner] != " ":
                inner += 1
            if view[inner].isalnum():
                starts.add(inner)
    return starts


def _word_ends(view: str, lo: int, hi: int) -> set[int]:
    """Word ends in [lo, hi], each also without its trailing punctuation ("word," -> "word")."""
    ends = set()
    for q in range(max(1, lo), min(len(view), hi) + 1):
        if view[q - 1] != " " and (q == len(view) or view[q] == " "):
            ends.add(q)
            inner = q
            while inner > 1 and not view[inner - 1].isalnum() and view[inner - 1] != " ":
                inner -= 1
            if view[inner - 1].isalnum():
                ends.add(inner)
    return ends


def _word_start_at_or_before(view: str, position: int) -> int:
    position = min(max(position, 0), len(view) - 1)
    while position < len(view) - 1 and view[position] == " ":
        position += 1
    while position > 0 and view[position - 1] != " ":
        position -= 1
    return position


def _word_end_at_or_after(view: str, position: int) -> int:
    position = min(max(position, 1), len(view))
    while position > 1 and view[position - 1] == " ":
        position -= 1
    while position < len(view) and view[position] != " ":
        position += 1
    return position
