"""Word shingles and their keyed hashes: how a copy of a source's wording is recognised.

A text copies a source when it repeats ``n`` consecutive *words* of it. Words are compared
after a normalisation that trivial edits cannot get past:

- the text is NFKC-normalised (ligatures, full-width and other compatibility forms fold);
- a word is a run of letters and digits; apostrophes and invisible characters (soft hyphen,
  zero-width space/joiners, word joiner) inside it are dropped (``don't`` = ``dont``), and
  everything else (spaces, line breaks, punctuation, quotes, hyphens, underscores) separates
  words;
- words are case-folded and stripped of diacritics (``Café`` = ``cafe``).

A shingle is ``n`` consecutive words; its hash is a keyed 64-bit BLAKE2b of the words, so a
set of hashes tells whether a text repeats a shingle without revealing the words. Imports no
Django: the key and ``n`` come from the caller.
"""

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "WORD",
    "Run",
    "Word",
    "copied_runs",
    "key_id",
    "shingle_hashes",
    "words",
]

_JOINERS = "'\u2019\u00ad\u200b\u200c\u200d\u2060"
# A word: letters and digits, with apostrophes and invisible joiners inside it.
WORD = re.compile(rf"[^\W_]+(?:[{_JOINERS}]+[^\W_]+)*")
_DROPPED = re.compile(rf"[{_JOINERS}]")
# Separates the words of a shingle before hashing; never part of a word.
_SHINGLE_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Word:
    """A normalised word and where it stands in the (NFKC-normalised) text."""

    token: str
    start: int
    end: int


@dataclass(frozen=True)
class Run:
    """``n`` or more consecutive words of a text that a fingerprint holds, as they appear in
    the NFKC-normalised text, with the positions of their first and last word."""

    text: str
    first_word: int
    word_count: int


def _token(word: str) -> str:
    token = _DROPPED.sub("", word).casefold()
    if token.isascii():
        return token
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def _nfkc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def words(text: str) -> list[Word]:
    """The text's words after the normalisation above, with offsets into ``NFKC(text)``."""
    return [Word(_token(m.group()), m.start(), m.end()) for m in WORD.finditer(_nfkc(text))]


def shingle_hashes(tokens: list[str], *, key: bytes, n: int) -> list[int]:
    """The keyed hash of every ``n``-word shingle, in order (shingle i starts at word i)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    return [
        int.from_bytes(
            hashlib.blake2b(
                _SHINGLE_SEPARATOR.join(tokens[i : i + n]).encode(), digest_size=8, key=key
            ).digest(),
            "little",
        )
        for i in range(len(tokens) - n + 1)
    ]


def key_id(key: bytes) -> str:
    """A short public name of a hashing key: tells fingerprints of different keys apart."""
    return hashlib.blake2b(key, digest_size=8, person=b"alx-fp-key-id").hexdigest()


def copied_runs(
    text: str, known: Callable[[list[int]], list[bool]], *, key: bytes, n: int
) -> list[Run]:
    """Each maximal run of ``n``+ words of ``text`` whose shingles ``known`` recognises.

    ``known`` answers, for the text's shingle hashes in order, which ones a fingerprint holds.
    Overlapping and touching recognised shingles make one run, reported whole.
    """
    found = words(text)
    hashes = shingle_hashes([w.token for w in found], key=key, n=n)
    if not hashes:
        return []
    normalised = _nfkc(text)
    runs: list[Run] = []
    run_start = run_end = -1  # word indexes; the current run covers [run_start, run_end)
    for i, hit in enumerate(known(hashes)):
        if not hit:
            continue
        if i <= run_end:
            run_end = i + n
            continue
        if run_start >= 0:
            runs.append(_run(normalised, found, run_start, run_end))
        run_start, run_end = i, i + n
    if run_start >= 0:
        runs.append(_run(normalised, found, run_start, run_end))
    return runs


def _run(text: str, found: list[Word], first: int, stop: int) -> Run:
    return Run(text[found[first].start : found[stop - 1].end], first, stop - first)
