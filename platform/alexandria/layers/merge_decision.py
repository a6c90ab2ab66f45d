"""The one merge decision: merge, put to a verify_merge vote, or keep apart. Pure Python.

The merge task (``merge_planning.plan_merges``), ``alexandria merge-decide`` and
``bench/merge_quality.py`` all call ``decide_merge``; none has a rule of its own.

- **merge** only when the texts are equal after normalisation (Unicode NFKC, case, whitespace,
  punctuation, hyphens, and the definite article). Similarity alone never merges: on pairs
  embeddings find near-identical, most differ in meaning (hedges, step order, antonyms…).
  "the" is dropped because extracted claims add or omit it freely ("where the food is" /
  "where food is") without changing what they assert; "a"/"an" are kept, since "a cause" and
  "the cause" differ once "the" is gone from both.
- **apart** below the recall threshold (``dissimilar``) or when a guard names a difference
  (``textproc.meaning_guards``: negation, antonym, hedging, quantity, role_reversal,
  different_entity, specialisation, and ``step_order`` for instructions).
- **verify** otherwise: a volunteer model decides (``verify_merge``).

An instruction is compared as one text: its goal on the first line, then one step per line
(``instruction_text``); "1." / "2)" / "-" / "Step 3:" prefixes are ignored when it is read back
(``parse_instruction``), so the command line accepts what the merge task builds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

import numpy as np

from alexandria.textproc.meaning_guards import blocking_reason, lemma

KINDS = ("hypothesis", "instruction")
_STEP_PREFIX = re.compile(r"^\s*(?:step\s*\d+\s*[:.)]|\d+\s*[.)]|[-*•])\s*", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[^\w\s%°.]|(?<!\d)\.|\.(?!\d)")
_STEP_WORD = re.compile(r"[a-z]+")


class TextEmbedder(Protocol):
    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class MergeDecision:
    decision: str
    """merge, verify or apart."""
    reason: str
    similarity: float


def normalise(text: str) -> str:
    """The text as compared for an exact merge (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    text = _PUNCTUATION.sub(" ", text.replace("-", " ").replace("_", " "))
    return " ".join(word for word in text.split() if word != "the")


def instruction_text(goal: str, steps: Sequence[str]) -> str:
    """The goal, then "1. step" lines: how an instruction is embedded, compared and shown to
    the verifier."""
    lines = [goal.strip(), *(f"{n}. {step.strip()}" for n, step in enumerate(steps, start=1))]
    return "\n".join(lines)


def parse_instruction(text: str) -> tuple[str, list[str]]:
    """(goal, steps) of an ``instruction_text``; numbering and bullets are optional."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "", []
    return lines[0], [_STEP_PREFIX.sub("", line) for line in lines[1:]]


def merge_text(kind: str, text: str, details: dict[str, Any] | None) -> str:
    """What a stored item is compared by: a hypothesis's text; an instruction's goal and steps."""
    steps = (details or {}).get("steps") or []
    if kind == "instruction" and steps:
        return instruction_text(text, [str(step) for step in steps])
    return text


def _step_words(step: str) -> set[str]:
    return {lemma(w) for w in _STEP_WORD.findall(step.lower()) if len(w) > 2}


def steps_reordered(steps_a: Sequence[str], steps_b: Sequence[str]) -> bool:
    """Both lists have the same steps (matched by shared words, best match first) but not in
    the same order. Steps that match nothing on the other side are left out: a reworded list
    is judged by the steps that can be told apart."""
    words_a, words_b = [_step_words(s) for s in steps_a], [_step_words(s) for s in steps_b]
    scores = sorted(
        (
            (len(wa & wb) / len(wa | wb), i, j)
            for i, wa in enumerate(words_a)
            for j, wb in enumerate(words_b)
            if wa & wb
        ),
        reverse=True,
    )
    matched: dict[int, int] = {}
    taken: set[int] = set()
    for _, i, j in scores:
        if i not in matched and j not in taken:
            matched[i] = j
            taken.add(j)
    order = [matched[i] for i in sorted(matched)]
    return any(later < earlier for earlier, later in pairwise(order))


def comparable_text(kind: str, text: str) -> str:
    """An instruction rewritten in the one format (goal, numbered steps); a hypothesis as is."""
    return instruction_text(*parse_instruction(text)) if kind == "instruction" else text


def _guard_text(kind: str, text: str) -> str:
    if kind != "instruction":
        return text
    goal, steps = parse_instruction(text)
    return ". ".join([goal, *steps])


def decide_merge(
    text_a: str, text_b: str, kind: str, similarity: float, *, recall: float
) -> MergeDecision:
    """Merge, verify or keep apart two items of the same ``kind`` whose embeddings have cosine
    ``similarity``; ``recall`` is the threshold below which pairs are not even candidates."""
    similarity = round(float(similarity), 6)
    if normalise(comparable_text(kind, text_a)) == normalise(comparable_text(kind, text_b)):
        return MergeDecision("merge", "normalised_equal", similarity)
    if similarity < recall:
        return MergeDecision("apart", "dissimilar", similarity)
    if kind == "instruction":
        steps_a, steps_b = parse_instruction(text_a)[1], parse_instruction(text_b)[1]
        if steps_reordered(steps_a, steps_b):
            return MergeDecision("apart", "step_order", similarity)
    reason = blocking_reason(
        _guard_text(kind, text_a), _guard_text(kind, text_b), instruction=kind == "instruction"
    )
    if reason is not None:
        return MergeDecision("apart", reason, similarity)
    return MergeDecision("verify", "guards_passed", similarity)


def decide_pairs(
    pairs: Sequence[tuple[str, str, str]], embedder: TextEmbedder, *, recall: float
) -> list[MergeDecision]:
    """``decide_merge`` for (text_a, text_b, kind) triples, embedded in one batch the way the
    merge task embeds items (instructions in the one step format)."""
    texts = [comparable_text(kind, text) for a, b, kind in pairs for text in (a, b)]
    vectors = embedder.embed_texts(texts) if texts else np.zeros((0, 1))
    return [
        decide_merge(
            texts[2 * n],
            texts[2 * n + 1],
            kind,
            float(vectors[2 * n] @ vectors[2 * n + 1]),
            recall=recall,
        )
        for n, (_, _, kind) in enumerate(pairs)
    ]
