"""Check that an entity a fact names is actually mentioned where the fact is anchored.

An extractor may attach a plausible entity that the quoted passage never mentions; requiring
the name (or an alias) in or near the anchor catches that. When this check fails, the caller
falls back to the document's canonical entities.
"""

import re
import unicodedata
from collections.abc import Iterable

from alexandria.textproc.item_quality_lexicon import DE_FUNCTION

__all__ = ["content_words", "entity_grounded", "ungrounded_words"]

_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")


def _stem(word: str) -> str:
    """Fold case, accents, a possessive 's and a simple plural, so variants compare equal."""
    word = unicodedata.normalize("NFKD", word.casefold().replace("\u2019", "'"))
    word = "".join(c for c in word if not unicodedata.combining(c))
    word = word.removesuffix("'s").replace("'", "")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(_SIBILANT_ENDINGS):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text)]


def entity_grounded(
    entity_name: str,
    aliases: Iterable[str],
    source: str,
    anchor_start: int,
    anchor_end: int,
    window: int = 300,
) -> bool:
    """True if the entity's name or an alias occurs within `window` chars of the anchor.

    Matching is by whole words, tolerant of case, accents, whitespace and punctuation
    between words, a possessive 's and a simple plural ("Curie's", "neural networks").
    """
    nearby = _stems(source[max(0, anchor_start - window) : anchor_end + window])
    for name in (entity_name, *aliases):
        wanted = _stems(name)
        if wanted and any(
            nearby[i : i + len(wanted)] == wanted for i in range(len(nearby) - len(wanted) + 1)
        ):
            return True
    return False


# Words that carry no content of their own: a predicate "is part of" stands on "part" alone.
_FUNCTION_WORDS = frozenset(
    _stem(word)
    for word in """a an the of in on at to for from by with as into onto about over under
    between among and or but nor not no is are was were be been being am has have had do
    does did can could may might must shall should will would it its this that these those
    there their they he she his her him we our you your i me my one ones than then so such
    also very""".split()  # noqa: SIM905
)
# German ones, for German sources only: some are English content words ("die", "war").
_GERMAN_FUNCTION_WORDS = frozenset(_stem(word) for word in DE_FUNCTION)
# A word counts as found when a nearby word shares its stem or this many first letters
# ("discovered" and "discovery"); shorter words must match whole. In German also when a
# nearby word contains it: compounds and separable verbs ("setzt um" and "umgesetzt"), unless a
# negating prefix comes right before it ("erlaubt" is not found in "unerlaubt").
_SHARED_PREFIX = 5
_GERMAN_NEGATING_PREFIXES = ("un", "nicht", "miss")
_FUNCTION_WORDS_DE = _FUNCTION_WORDS | _GERMAN_FUNCTION_WORDS


def _inside_compound(word: str, other: str) -> bool:
    """Whether ``word`` is part of the German compound ``other`` without being negated in it."""
    at = other.find(word)
    return at >= 0 and not other[:at].endswith(_GERMAN_NEGATING_PREFIXES)


def content_words(text: str, *, language: str = "en") -> list[str]:
    """The stems of ``text``'s words that carry content (numbers included)."""
    function_words = _FUNCTION_WORDS_DE if language == "de" else _FUNCTION_WORDS
    return [stem for stem in _stems(text) if stem not in function_words]


def ungrounded_words(
    phrase: str,
    source: str,
    anchor_start: int,
    anchor_end: int,
    window: int,
    *,
    language: str = "en",
) -> list[str]:
    """The content words of ``phrase`` that occur nowhere within ``window`` characters of the
    anchor (none for a phrase of function words only, such as "is" or "has"); ``language`` is
    the source's ISO 639-1 code."""
    wanted = content_words(phrase, language=language)
    if not wanted:
        return []
    nearby = set(_stems(source[max(0, anchor_start - window) : anchor_end + window]))
    prefixes = {word[:_SHARED_PREFIX] for word in nearby if len(word) >= _SHARED_PREFIX}

    def found(word: str) -> bool:
        if word in nearby or (len(word) >= _SHARED_PREFIX and word[:_SHARED_PREFIX] in prefixes):
            return True
        return (
            language == "de"
            and len(word) >= _SHARED_PREFIX
            and any(_inside_compound(word, other) for other in nearby)
        )

    return [word for word in wanted if not found(word)]
