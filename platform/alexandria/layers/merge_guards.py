"""Cheap checks that tell apart statements embeddings find near-identical.

Sentence embeddings put "X causes Y", "X does not cause Y", "Y causes X" and "X causes Y in 20%
of cases" / "... in 50% ..." very close together. Any pair a guard flags is never merged, not
even by an LLM vote. Pure Python (no Django), so the benches and the merge planner share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*%?")
NEGATIONS = frozenset(
    {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot"}
    | {"fails", "fail", "failed"}
)
# Predicates with opposite meaning: a pair whose statements differ only by one of these is not
# a paraphrase ("raises" vs "lowers" blood pressure).
OPPOSITES = (
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("raise", "lower"),
    ("higher", "lower"),
    ("more", "less"),
    ("more", "fewer"),
    ("improve", "worsen"),
    ("strengthen", "weaken"),
    ("prevent", "cause"),
    ("benefit", "harm"),
    ("safe", "unsafe"),
    ("effective", "ineffective"),
    ("true", "false"),
    ("before", "after"),
    ("above", "below"),
    ("positive", "negative"),
)
NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "million": 1000000,
    "half": 0.5, "twice": 2, "double": 2, "triple": 3, "dozen": 12,
}  # fmt: skip
# A word list reads better as text than as a list literal.
STOPWORDS = frozenset(
    (  # noqa: SIM905
        "a an the of in on at to for from with by as and or but is are was were be been being "
        "it its this that these those which who whom whose what when where while than then there "
        "their they them he she his her we our you your i my do does did doing has have had "
        "having can could may might must shall should will would also very much many some any "
        "all each such so too into onto over under about between through during per via up down "
        "out off if because since however often usually generally"
    ).split()
)
# Passive voice, and converse phrasings that also name the effect first ("Y results from X").
PASSIVE = re.compile(
    r"\b(?:is|are|was|were|be|been|being|gets|got|get)\s+(?:\w+ly\s+)?\w+(?:ed|en|wn|t)\s+by\b"
    r"|\b(?:results?|resulted|stems?|stemmed|arises?|arose|comes?|came|follows?|followed)\s+from\b"
    r"|\bdue\s+to\b|\bbecause\s+of\b"
)
# "the quality of sleep" reads as "sleep quality": noun phrases with "of" are turned around
# before word order is compared.
OF_PHRASE = re.compile(r"\b([a-z]+) of (?:the |a |an )?([a-z]+)\b")


def stem(word: str) -> str:
    """A crude suffix stripper: enough to match causes/caused/cause and risks/risk."""
    for suffix in ("ing", "ied", "ies", "es", "ed", "s", "e", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _number(token: str) -> float | None:
    token = token.rstrip("%").replace(",", "")
    try:
        return float(token)
    except ValueError:
        return NUMBER_WORDS.get(token)


@dataclass(frozen=True)
class Analysis:
    negations: int
    numbers: tuple[float, ...]
    content: tuple[str, ...]
    ordered: tuple[str, ...]
    opposites: frozenset[str]
    passive: bool


_OPPOSITE_STEMS = {stem(word) for pair in OPPOSITES for word in pair}


def _content_words(tokens: list[str]) -> tuple[str, ...]:
    return tuple(
        stem(t)
        for t in tokens
        if t not in STOPWORDS
        and t not in NEGATIONS
        and not t.endswith("n't")
        and _number(t) is None
    )


@lru_cache(maxsize=200_000)
def analyse(text: str) -> Analysis:
    lowered = text.lower()
    tokens = _WORD.findall(lowered)
    negations = sum(1 for t in tokens if t in NEGATIONS or t.endswith("n't"))
    numbers = tuple(sorted(n for t in tokens if (n := _number(t)) is not None))
    content = _content_words(tokens)
    return Analysis(
        negations=negations,
        numbers=numbers,
        content=content,
        ordered=_content_words(_WORD.findall(OF_PHRASE.sub(r"\2 \1", lowered))),
        opposites=frozenset(set(content) & _OPPOSITE_STEMS),
        passive=bool(PASSIVE.search(lowered)),
    )


def negation_mismatch(a: Analysis, b: Analysis) -> bool:
    """One statement is negated and the other is not (odd vs even count of negations)."""
    return a.negations % 2 != b.negations % 2


def opposite_predicates(a: Analysis, b: Analysis) -> bool:
    """One uses a word and the other its opposite (increase/decrease, more/less…)."""
    only_a, only_b = a.opposites - b.opposites, b.opposites - a.opposites
    return any(
        (stem(x) in only_a and stem(y) in only_b) or (stem(y) in only_a and stem(x) in only_b)
        for x, y in OPPOSITES
    )


def different_quantities(a: Analysis, b: Analysis) -> bool:
    return a.numbers != b.numbers


def _unique_positions(content: tuple[str, ...]) -> dict[str, int]:
    positions: dict[str, int] = {}
    repeated = set()
    for index, word in enumerate(content):
        if word in positions:
            repeated.add(word)
        positions[word] = index
    return {word: i for word, i in positions.items() if word not in repeated}


def _swapped_around_pivot(pos_a: dict[str, int], pos_b: dict[str, int], shared: list[str]) -> bool:
    """Some shared word moves from before a shared pivot to after it, and another one the
    other way round: the two sides of a predicate traded places."""
    for pivot in shared:
        others = [w for w in shared if w != pivot]
        forward = any(pos_a[w] < pos_a[pivot] and pos_b[w] > pos_b[pivot] for w in others)
        backward = any(pos_a[w] > pos_a[pivot] and pos_b[w] < pos_b[pivot] for w in others)
        if forward and backward:
            return True
    return False


def _mostly_reversed(pos_a: dict[str, int], pos_b: dict[str, int], shared: list[str]) -> bool:
    pairs = [(u, v) for i, u in enumerate(shared) for v in shared[i + 1 :]]
    inverted = sum(1 for u, v in pairs if (pos_a[u] - pos_a[v]) * (pos_b[u] - pos_b[v]) < 0)
    return inverted * 2 > len(pairs)


def roles_swapped(a: Analysis, b: Analysis) -> bool:
    """Subject and object trade places around a predicate, unless the voice changed too.

    "cats chase dogs" / "dogs chase cats" swap around "chase". "smoking causes cancer" /
    "cancer is caused by smoking" (or "cancer results from smoking") swap as well, but the
    passive or converse phrasing swaps the roles back; then the words must be in reversed
    order. Words that only move to the other end ("in adults, …" / "… in adults") don't count.
    """
    pos_a, pos_b = _unique_positions(a.ordered), _unique_positions(b.ordered)
    shared = [w for w in pos_a if w in pos_b]
    if len(shared) < 2:
        return False
    if a.passive != b.passive:
        return not _mostly_reversed(pos_a, pos_b, shared)
    return len(shared) >= 3 and _swapped_around_pivot(pos_a, pos_b, shared)


def blocking_reason(text_a: str, text_b: str) -> str | None:
    """Why the two statements must not merge, or None when no guard objects."""
    a, b = analyse(text_a), analyse(text_b)
    if negation_mismatch(a, b):
        return "negation"
    if opposite_predicates(a, b):
        return "opposite"
    if different_quantities(a, b):
        return "quantity"
    if roles_swapped(a, b):
        return "role_reversal"
    return None
