"""Stance of a neighbour towards a matched claim: pro, contra or merely related.

Pure functions (no Django), shared by /ask, ``alexandria stance-decide`` and
``bench/stance_quality.py``. Evidence, weakest first:

- cheap signals (``cheap_stance``): two statements about the same thing whose polarity flips
  (one negated, or one using the opposite predicate) contradict; so does a neighbour an
  abstraction probe found under "antithesis" or "con". Cheap signals never say pro: sharing
  words, or a "pro"/"cause" probe, is no evidence that one statement supports the other.
- a judge_stance verdict on the pair (``combine``), which alone can make a neighbour pro.

The stance an item's own document takes towards it (``details.stance``) says nothing about
another claim and is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alexandria.textproc.meaning_guards import analyse, antonyms, polarity_reason

Label = Literal["pro", "contra", "related"]
CONTRA_RELATIONS = frozenset({"antithesis", "con"})
# Two statements are about the same thing when most content words of the shorter one occur in
# the other, and at least two do.
MIN_SHARED_WORDS = 2
MIN_OVERLAP = 0.6
# The guards' names for a polarity flip, as /ask reports them.
FLIP_BASIS = {"negation": "negation", "antonym": "opposite"}


@dataclass(frozen=True)
class StanceCall:
    label: Label
    basis: str


def _about_the_same(claim_text: str, other_text: str) -> bool:
    """Both statements share most content words and each one's first content word (a cheap
    stand-in for its subject: "Aspirin thins the blood" is not about ibuprofen)."""
    a, b = analyse(claim_text), analyse(other_text)
    table = antonyms()
    # Opposite words are what differs; they don't count against the overlap.
    words_a = [w for w in a.content if not table.get(w, frozenset()) & b.lemmas]
    words_b = [w for w in b.content if not table.get(w, frozenset()) & a.lemmas]
    shared = set(words_a) & set(words_b)
    smaller = min(len(set(words_a)), len(set(words_b)))
    if len(shared) < MIN_SHARED_WORDS or len(shared) < MIN_OVERLAP * smaller:
        return False
    return words_a[0] in shared and words_b[0] in shared


def polarity_flip(claim_text: str, other_text: str) -> str | None:
    """A "negation" or "opposite" flip: two statements about the same thing say opposite things.

    The merge guards decide the flip: a negation or an antonym the other side does not undo, so
    "X does not raise Y" / "X lowers Y" and "X does not prevent Y" / "X fails to prevent Y"
    agree.
    """
    if not _about_the_same(claim_text, other_text):
        return None
    reason = polarity_reason(analyse(claim_text), analyse(other_text))
    return FLIP_BASIS.get(reason) if reason else None


def cheap_stance(claim_text: str, other_text: str, relation_hint: str | None = None) -> StanceCall:
    """Contra on a polarity flip or a contra probe relation; otherwise related. Never pro."""
    flip = polarity_flip(claim_text, other_text)
    if flip:
        return StanceCall("contra", flip)
    if relation_hint in CONTRA_RELATIONS:
        return StanceCall("contra", f"relation:{relation_hint}")
    return StanceCall("related", "none")


def combine(verdict: str | None, cheap: StanceCall) -> StanceCall:
    """The label /ask shows, from a judge verdict (None: not judged yet) and the cheap call.

    "contradicts" → contra. "unrelated" → related (the judge saw no bearing; cheap contra
    evidence is dropped too, as it rests on shared words only). "supports" → pro, unless the
    texts' polarity flips: then contra — a guard contradiction beats a model's "supports", since
    near-identical wording with a flipped polarity is exactly where small models say "supports"
    wrongly. No verdict → the cheap call (contra or related, never pro).
    """
    if verdict == "contradicts":
        return StanceCall("contra", "judge")
    if verdict == "unrelated":
        return StanceCall("related", "judge:unrelated")
    if verdict == "supports":
        if cheap.label == "contra" and cheap.basis in ("negation", "opposite"):
            return StanceCall("contra", cheap.basis)
        return StanceCall("pro", "judge")
    return cheap
