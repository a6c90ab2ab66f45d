"""Check that an entity a fact names is actually mentioned where the fact is anchored.

An extractor may attach a plausible entity that the quoted passage never mentions; requiring
the name (or an alias) in or near the anchor catches that. When this check fails, the caller
falls back to the document's canonical entities.
"""

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["entity_grounded"]

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
