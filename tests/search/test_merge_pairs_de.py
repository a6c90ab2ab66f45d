"""German merge pairs (tests/data/merge_pairs_de.jsonl): the guards read German negation,
hedging, antonyms, quantities (decimal commas, number words) and word order."""

import json
from pathlib import Path

import pytest

from alexandria.layers.merge_decision import decide_merge

PAIRS = Path(__file__).resolve().parents[1] / "data" / "merge_pairs_de.jsonl"
ROWS = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]


def test_the_german_set_covers_the_guarded_classes():
    assert len(ROWS) >= 30
    assert len({row["id"] for row in ROWS}) == len(ROWS)
    classes = {row["class"] for row in ROWS}
    assert {"paraphrase", "negation", "antonym", "hedging", "quantity", "role_reversal"} <= classes


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row['id']}-{row['class']}")
def test_german_pairs_are_decided_correctly(row):
    """Text only (similarity taken as 1): a look-alike is kept apart by the guard of its
    class, a paraphrase goes on to be merged or voted on."""
    decision = decide_merge(row["a"], row["b"], row["kind"], 1.0, recall=0.8)
    if row["label"] == "same":
        assert decision.decision != "apart", (row, decision)
    else:
        assert decision.decision == "apart", (row, decision)
