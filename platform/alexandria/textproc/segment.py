"""Rule-based sentence segmentation and sentence-aligned chunking over normalised text.

No model downloads: the rules cover what matters for scholarly and web prose (abbreviations,
initials, dotted acronyms, decimals, ellipses, closing quotes/brackets after the terminator,
German abbreviations and ordinals) and a paragraph break always ends a sentence. Spans index
into the text they were computed on, which for stored offsets is the output of
`normalize_text`.
"""

import bisect
import re
from dataclasses import dataclass

__all__ = ["Chunk", "Sentence", "TextSpan", "chunk_text", "split_sentences"]


@dataclass(frozen=True, slots=True)
class TextSpan:
    """Half-open character span [start, end) into a text."""

    start: int
    end: int

    def of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Sentence(TextSpan):
    """A sentence: starts and ends on non-whitespace, includes its closing punctuation."""


@dataclass(frozen=True, slots=True)
class Chunk(TextSpan):
    """A sentence-aligned unit of text sent to an extractor, with read-only context spans.

    `context_before`/`context_after` are the neighbouring text the extractor may read but
    must not extract from; they are empty spans at the chunk edges of the document.
    """

    index: int
    context_before: TextSpan
    context_after: TextSpan

    @property
    def context_start(self) -> int:
        """Start of the whole readable window: the context before, the chunk, the context after."""
        return self.context_before.start

    @property
    def context_end(self) -> int:
        """End of the whole readable window (see `context_start`)."""
        return self.context_after.end


# Never end a sentence: titles and Latin/scholarly abbreviations that precede more text.
_NON_TERMINAL_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "rev", "hon", "st", "mt", "sr", "jr", "gen", "col",
    "lt", "sgt", "capt", "cmdr", "gov", "sen", "rep", "pres", "vs", "cf", "e.g", "i.e", "viz",
    "approx", "ca", "esp", "incl", "dept", "univ", "assoc", "inst",
    # German ("z. B.", "d. h.", "u. a.", "v. a.", "bzw.", "vgl.", ...)
    "z", "d", "h", "u", "v", "o", "bzw", "vgl", "ggf", "evtl", "sog", "inkl", "zzgl", "gem",
    "hrsg", "hr", "jh", "jhd", "bspw", "insb", "allg", "urspr", "mio", "mrd", "tsd"
})  # fmt: skip
# Non-terminal only when a number follows ("Fig. 3", "pp. 12-14", "No. 5").
_NUMBERED_ABBREVIATIONS = frozenset({
    "fig", "figs", "eq", "eqs", "no", "nos", "vol", "vols", "p", "pp", "ch", "chap", "sec",
    "sect", "art", "ref", "refs", "tab", "ed", "eds",
    # German ("Nr. 5", "Abs. 2", "S. 12", "Bd. 3", "Kap. 4", "Abb. 1", "Aufl. 2")
    "nr", "abs", "s", "bd", "kap", "abb", "aufl", "anm", "ziff", "lit"
})  # fmt: skip
# Often end a sentence themselves ("..., etc. The next"): terminal before a capital.
_TERMINAL_ABBREVIATIONS = frozenset({
    "etc", "al", "inc", "ltd", "co", "corp", "bros", "usw", "usf", "gmbh"
})  # fmt: skip
# A number with a full stop before one of these is a German ordinal ("am 3. Oktober", "im
# 19. Jahrhundert"), not the end of a sentence.
_ORDINAL_NOUNS = frozenset({
    "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "dezember", "jahrhundert", "jahrhunderts", "jahrtausend", "jh",
    "auflage", "klasse", "kapitel", "platz", "stock", "mal", "lebensjahr", "ausgabe", "band",
    "tag", "woche", "monat", "quartal", "runde", "liga", "internationale", "weltkrieg", "fc"
})  # fmt: skip
# A dotted acronym ("U.S.", "e.g." is listed above) ends a sentence only before one of these.
_SENTENCE_STARTERS = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we",
    "i", "you", "his", "her", "their", "our", "my", "in", "on", "at", "for", "but", "and", "or",
    "so", "yet", "if", "when", "while", "after", "before", "however", "thus", "then", "there",
    "here", "as", "since", "because", "although", "though", "what", "which", "who", "how", "why"
})  # fmt: skip

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_TERMINATOR = re.compile(r"(?:[.!?\u2026]+)[\"'\u201d\u2019\u00bb)\]}]*(?=\s|$)")
_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_WHITESPACE = re.compile(r"\s+")
_OPENERS = "\"'\u201c\u2018\u00ab([{"


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentence spans; between two sentences there is only whitespace."""
    sentences: list[Sentence] = []
    paragraph_start = 0
    for brk in _PARAGRAPH_BREAK.finditer(text):
        _split_paragraph(text, paragraph_start, brk.start(), sentences)
        paragraph_start = brk.end()
    _split_paragraph(text, paragraph_start, len(text), sentences)
    return sentences


def _split_paragraph(text: str, start: int, end: int, out: list[Sentence]) -> None:
    sentence_start = start
    for term in _TERMINATOR.finditer(text, start, end):
        if _ends_sentence(text, term.start(), term.group(), term.end(), end):
            _append_trimmed(text, sentence_start, term.end(), out)
            sentence_start = term.end()
    _append_trimmed(text, sentence_start, end, out)


def _append_trimmed(text: str, start: int, end: int, out: list[Sentence]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append(Sentence(start, end))


def _ends_sentence(text: str, term_start: int, term: str, term_end: int, limit: int) -> bool:
    next_pos = term_end
    while next_pos < limit and text[next_pos].isspace():
        next_pos += 1
    if next_pos >= limit:
        return True
    following = text[next_pos]
    while following in _OPENERS and next_pos + 1 < limit:
        next_pos += 1
        following = text[next_pos]
    if following.islower():
        return False
    if "..." in term or "\u2026" in term:
        return following.isupper()
    if term[0] != ".":
        return True
    word = _word_before(text, term_start)
    lowered = word.lower()
    next_word = re.match(r"\w+", text[next_pos : next_pos + 40])
    next_word_lower = next_word.group().lower() if next_word else ""
    if lowered in _NON_TERMINAL_ABBREVIATIONS:
        return False
    if lowered in _NUMBERED_ABBREVIATIONS and following.isdigit():
        return False
    if lowered in _TERMINAL_ABBREVIATIONS:
        return following.isupper()
    if word.isdigit() and len(word) <= 4 and next_word_lower in _ORDINAL_NOUNS:
        return False
    if _ACRONYM.fullmatch(word):
        return next_word_lower in _SENTENCE_STARTERS
    # An initial ("J. Smith") is a single capital letter.
    return not (len(word) == 1 and word.isupper())


def _word_before(text: str, pos: int) -> str:
    """The whitespace-delimited token ending at `pos`, without leading opening punctuation."""
    start = pos
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:pos].lstrip(_OPENERS)


def chunk_text(text: str, target_words: int = 200, context_chars: int = 300) -> list[Chunk]:
    """Cut `text` into contiguous sentence-aligned chunks of about `target_words` words.

    A sentence is never split unless it alone exceeds twice the target, in which case it is
    cut at whitespace into pieces of about the target. Only whitespace lies between
    consecutive chunks. ~200 words is the default: LAION's Knowledge-Unit study found
    extraction from ~200-word chunks better than from ~500-word ones.
    """
    if target_words < 1:
        raise ValueError("target_words must be at least 1")
    units: list[tuple[int, int, int]] = []  # (start, end, word count)
    for sentence in split_sentences(text):
        units.extend(_sentence_units(text, sentence, target_words))
    # Context is assembled from the same units: whole sentences, or the pieces of a sentence
    # too long to keep whole, so a chunk inside such a sentence sees its neighbouring pieces.
    unit_spans = [TextSpan(start, end) for start, end, _ in units]

    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    current_words = 0
    for unit in units:
        words = unit[2]
        overshoot = current_words + words - target_words
        if current and overshoot > 0 and overshoot > target_words - current_words:
            groups.append(current)
            current, current_words = [], 0
        current.append(unit)
        current_words += words
        if current_words >= target_words:
            groups.append(current)
            current, current_words = [], 0
    if current:
        # A short tail reads better merged into the previous chunk than standing alone.
        if groups and current_words < target_words // 4:
            groups[-1].extend(current)
        else:
            groups.append(current)

    chunks = []
    for index, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        chunks.append(
            Chunk(
                start=start,
                end=end,
                index=index,
                context_before=_context_before(text, unit_spans, start, context_chars),
                context_after=_context_after(text, unit_spans, end, context_chars),
            )
        )
    return chunks


def _sentence_units(text: str, sentence: Sentence, target_words: int) -> list[tuple[int, int, int]]:
    words = list(re.finditer(r"\S+", text[sentence.start : sentence.end]))
    if len(words) <= 2 * target_words:
        return [(sentence.start, sentence.end, len(words))]
    pieces = []
    for first in range(0, len(words), target_words):
        piece = words[first : first + target_words]
        pieces.append(
            (sentence.start + piece[0].start(), sentence.start + piece[-1].end(), len(piece))
        )
    return pieces


def _context_before(text: str, sentences: list[TextSpan], start: int, limit: int) -> TextSpan:
    """Whole sentences ending before `start` that fit in `limit` chars, else a word-cut tail."""
    count = bisect.bisect_right(sentences, start, key=lambda s: s.end)
    if count == 0 or limit <= 0:
        return TextSpan(start, start)
    end = sentences[count - 1].end
    context_start = end
    for i in range(count - 1, -1, -1):
        if end - sentences[i].start > limit:
            break
        context_start = sentences[i].start
    if context_start == end:  # the nearest sentence alone is too long: cut after a space
        space = _WHITESPACE.search(text, end - limit, end)
        context_start = space.end() if space else end - limit
    return TextSpan(context_start, end)


def _context_after(text: str, sentences: list[TextSpan], end: int, limit: int) -> TextSpan:
    """Whole sentences starting after `end` that fit in `limit` chars, else a word-cut head."""
    first = bisect.bisect_left(sentences, end, key=lambda s: s.start)
    if first == len(sentences) or limit <= 0:
        return TextSpan(end, end)
    start = sentences[first].start
    context_end = start
    for i in range(first, len(sentences)):
        if sentences[i].end - start > limit:
            break
        context_end = sentences[i].end
    if context_end == start:  # the nearest sentence alone is too long: cut before a space
        spaces = [m.start() for m in _WHITESPACE.finditer(text, start, start + limit + 1)]
        context_end = spaces[-1] if spaces else start + limit
    return TextSpan(start, context_end)
