"""The quality gate on stored items, measured on a labelled set (tests/data/item_quality.jsonl):
220 English and German items from many domains, good ones and bad ones of every reason."""

import json
from pathlib import Path

from alexandria.textproc.item_quality import detect_language, item_problems

LABELLED = Path(__file__).parents[1] / "data" / "item_quality.jsonl"
# Measured: 218 of 220 lines decided right, reason included (0.991); 1 of 98 good lines
# rejected (a German sentence opening with a subordinate clause); one truncation missed
# ("... schwerer Verl"). The last 40 lines, written before the gate's final tuning, scored
# 0.925 (3 of 19 good ones rejected) when first run.
MIN_ACCURACY = 0.97
MAX_GOOD_REJECTED = 0.05


def _rows() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]


def _codes(row: dict) -> list[str]:
    problems = item_problems(
        row["kind"], row["text"], steps=row.get("steps", ()), source_title=row.get("title", "")
    )
    return [problem.code for problem in problems]


def test_the_labelled_set_covers_both_languages_and_every_reason():
    rows = _rows()
    assert len(rows) >= 150
    labels = {row["label"] for row in rows}
    assert labels >= {
        "good", "markup", "heading", "question", "truncated", "restates_title",
        "not_declarative", "no_steps", "repeated_steps", "empty",
    }  # fmt: skip
    languages = {
        detect_language(row["text"] + " " + " ".join(row.get("steps", []))) for row in rows
    }
    assert languages == {"en", "de"}


def test_the_gate_decides_the_labelled_set_and_rarely_rejects_a_good_item():
    rows = _rows()
    right = 0
    good = [row for row in rows if row["label"] == "good"]
    good_rejected = [row["text"] for row in good if _codes(row)]
    for row in rows:
        codes = _codes(row)
        right += (not codes) if row["label"] == "good" else row["label"] in codes
    assert right / len(rows) >= MIN_ACCURACY, right / len(rows)
    assert len(good_rejected) / len(good) <= MAX_GOOD_REJECTED, good_rejected


def test_the_demo_failures_are_rejected_with_their_reason():
    assert _codes({"kind": "hypothesis", "text": "{'step':2,"}) == ["markup"]
    assert _codes({"kind": "hypothesis", "text": "Caffeine and sleep"}) == ["heading"]
    assert _codes({"kind": "hypothesis", "text": "Caffeine blocks adenosine receptors."}) == []


def test_a_declared_language_overrides_the_guess():
    assert detect_language("Sleep", "de-DE") == "de"
    assert detect_language("Der Schlaf ist wichtig.") == "de"
    assert detect_language("The sleep is important.", "") == "en"
