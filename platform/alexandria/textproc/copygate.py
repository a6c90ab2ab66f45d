"""Copyright gate: find long verbatim runs an LLM output copied from its source.

Facts may quote their anchors verbatim, but the rest of an output must be the model's own
words: an output sharing a run of `n` or more consecutive words with the source, outside the
allowed anchor spans, is rejected by the caller.
"""

import re
from collections.abc import Iterable

__all__ = ["DEFAULT_RUN_WORDS", "long_verbatim_runs"]

DEFAULT_RUN_WORDS = 12

# Words are runs of letters/digits; apostrophes inside words are dropped ("don't" -> "dont")
# so that quote style does not hide a copy.
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")


def _words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


def _token(word: re.Match[str]) -> str:
    return word.group().replace("'", "").replace("\u2019", "").casefold()


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def long_verbatim_runs(
    output_text: str,
    source_text: str,
    n: int = DEFAULT_RUN_WORDS,
    allowed_spans: Iterable[tuple[int, int]] = (),
) -> list[str]:
    """Return each maximal run of >= `n` words of `output_text` that also occurs in the source.

    Words are compared case- and punctuation-insensitively. `allowed_spans` are
    ``(start, end)`` offsets into `source_text` (the located anchor fragments): an `n`-word
    sequence occurring inside one of them may be repeated freely, but a run that continues
    beyond the quote is reported whole. Runs are returned as the original output substrings,
    in output order.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    output_words = _words(output_text)
    output_tokens = [_token(w) for w in output_words]
    if len(output_tokens) < n:
        return []
    source_ngrams = _ngrams([_token(w) for w in _words(source_text)], n)
    allowed: set[tuple[str, ...]] = set()
    for start, end in allowed_spans:
        allowed |= _ngrams([_token(w) for w in _words(source_text[start:end])], n)

    runs: list[str] = []
    run_start = run_end = -1  # word indexes; the current run covers [run_start, run_end)
    for i in range(len(output_tokens) - n + 1):
        gram = tuple(output_tokens[i : i + n])
        if gram not in source_ngrams or gram in allowed:
            continue
        if i <= run_end:  # overlaps or touches the current run: extend it
            run_end = i + n
        else:
            if run_start >= 0:
                runs.append(_substring(output_text, output_words, run_start, run_end))
            run_start, run_end = i, i + n
    if run_start >= 0:
        runs.append(_substring(output_text, output_words, run_start, run_end))
    return runs


def _substring(text: str, words: list[re.Match[str]], first: int, stop: int) -> str:
    return text[words[first].start() : words[stop - 1].end()]
