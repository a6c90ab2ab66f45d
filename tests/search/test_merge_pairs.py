"""The labelled merge pairs (tests/data/merge_pairs.jsonl) and the decision's quality on them,
with the real embedder the merge task uses (bench/merge_quality.py prints the full table)."""

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from alexandria.embeddings import get_embedder
from alexandria.layers.merge_decision import decide_merge, decide_pairs

PAIRS = Path(__file__).resolve().parents[1] / "data" / "merge_pairs.jsonl"
CLASSES = {
    "paraphrase",
    "negation",
    "antonym",
    "role_reversal",
    "hedging",
    "quantity",
    "specialisation",
    "different_entity",
    "instruction_paraphrase",
    "instruction_order",
}
# The classes a guard is built for: most of their "different" pairs must be kept apart.
GUARDED = CLASSES - {"paraphrase", "instruction_paraphrase", "different_entity"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


def test_the_labelled_set_is_large_and_covers_every_class(rows):
    assert len(rows) >= 300
    assert len({row["id"] for row in rows}) == len(rows)
    counts = Counter(row["class"] for row in rows)
    assert set(counts) == CLASSES
    assert min(counts.values()) >= 25
    for row in rows:
        assert row["label"] in ("same", "different")
        assert row["kind"] == (
            "instruction" if row["class"].startswith("instruction") else "hypothesis"
        )
        assert row["a"].strip() and row["b"].strip()


def test_guards_let_true_paraphrases_through_and_never_merge_look_alikes(rows):
    """Text only (similarity taken as 1): what the guards veto, whatever the embedder."""
    vetoed: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        decision = decide_merge(row["a"], row["b"], row["kind"], 1.0, recall=0.8)
        if row["label"] == "different":
            assert decision.decision != "merge", row
        else:
            vetoed[row["class"]].append(decision.decision == "apart")
    for name, flags in vetoed.items():
        assert sum(flags) <= 0.2 * len(flags), name


@pytest.mark.parametrize("split", ["all", "held-out"])
def test_decision_quality_with_the_real_embedder(rows, split):
    chosen = [row for row in rows if split == "all" or row["id"] % 2 == 1]
    decisions = decide_pairs(
        [(row["a"], row["b"], row["kind"]) for row in chosen], get_embedder("minilm"), recall=0.8
    )
    same = [d for row, d in zip(chosen, decisions, strict=True) if row["label"] == "same"]
    different = defaultdict(list)
    for row, decision in zip(chosen, decisions, strict=True):
        if row["label"] == "different":
            different[row["class"]].append(decision)
    # No look-alike merges without a vote: precision of what merges alone is 1.
    assert all(d.decision != "merge" for ds in different.values() for d in ds)
    # A correct verifier would merge what reaches it: recall >= 0.8.
    assert sum(d.decision != "apart" for d in same) >= 0.8 * len(same)
    for name in GUARDED:
        caught = [d.decision == "apart" for d in different[name]]
        assert sum(caught) >= 0.7 * len(caught), name
