"""How well /ask labels a neighbour pro / contra / related, on hand-labelled triples.

Run: .venv/bin/python bench/stance_quality.py [--triples tests/data/stance_triples.jsonl]

Each triple is a claim, another statement and the gold relation (pro / contra / unrelated).
Three deciders, all through ``alexandria.search.stances``, the code /ask uses:

- ``scripted judge``: a judge_stance verdict equal to the gold relation, combined with the
  cheap signals by ``combine`` (the ceiling of the design: what the guards cost a right judge);
- ``cheap signals``: no verdict at all (what /ask shows before a pair is judged);
- ``yes-man judge``: a judge that answers "supports" to everything, as weak models tend to
  (what the guards save).

Accuracy is over three classes; "related" counts as right for gold "unrelated". It also prints
per-class confusion and how often "pro" is said where the gold relation is not pro, which must
be 0 for the cheap signals. Exit status 1 when that fails.
"""

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))

from alexandria.search.stances import StanceCall, cheap_stance, combine  # noqa: E402

VERDICT_OF_GOLD = {"pro": "supports", "contra": "contradicts", "unrelated": "unrelated"}
EXPECTED_LABEL = {"pro": "pro", "contra": "contra", "unrelated": "related"}
LABELS = ("pro", "contra", "related")


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _cheap(row: dict) -> StanceCall:
    return cheap_stance(row["claim"], row["other"], row.get("relation_hint"))


DECIDERS: dict[str, Callable[[dict], StanceCall]] = {
    "scripted judge": lambda row: combine(VERDICT_OF_GOLD[row["relation"]], _cheap(row)),
    "cheap signals": _cheap,
    "yes-man judge": lambda row: combine("supports", _cheap(row)),
}


def evaluate(rows: list[dict], decide: Callable[[dict], StanceCall]) -> dict:
    per_class: dict[str, Counter] = defaultdict(Counter)
    confusion: dict[str, Counter] = defaultdict(Counter)
    correct = false_pro = 0
    for row in rows:
        label = decide(row).label
        right = label == EXPECTED_LABEL[row["relation"]]
        correct += right
        false_pro += label == "pro" and row["relation"] != "pro"
        per_class[row["class"]][label] += 1
        confusion[row["relation"]][label] += 1
    return {
        "accuracy": correct / len(rows),
        "false_pro": false_pro,
        "confusion": confusion,
        "per_class": per_class,
    }


def report(name: str, rows: list[dict], result: dict) -> None:
    print(f"== {name}: accuracy {result['accuracy']:.3f} ({len(rows)} triples), "
          f"pro said where gold is not pro: {result['false_pro']}")  # fmt: skip
    print(f"   {'gold / said':<34}" + "".join(f"{label:>9}" for label in LABELS))
    for gold in ("pro", "contra", "unrelated"):
        counts = result["confusion"][gold]
        print(f"   {gold:<34}" + "".join(f"{counts[label]:>9}" for label in LABELS))
    gold_of = {row["class"]: row["relation"] for row in rows}
    print(f"   {'class (gold)':<34}" + "".join(f"{label:>9}" for label in LABELS))
    for cls in sorted(result["per_class"], key=lambda c: (gold_of[c], c)):
        counts = result["per_class"][cls]
        name_gold = f"{cls} ({gold_of[cls]})"
        print(f"   {name_gold:<34}" + "".join(f"{counts[label]:>9}" for label in LABELS))
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=Path, default=ROOT / "tests/data/stance_triples.jsonl")
    args = parser.parse_args(argv)
    rows = load(args.triples)
    results = {name: evaluate(rows, decide) for name, decide in DECIDERS.items()}
    for name, result in results.items():
        report(name, rows, result)
    if results["cheap signals"]["false_pro"]:
        print("FAIL: the cheap signals said pro without a judge")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
