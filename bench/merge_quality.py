"""Quality of the merge decision on the labelled pairs in tests/data/merge_pairs.jsonl.

The real embedder (``SEARCH_EMBEDDER``'s unless ``--embedder``, offline) and ``decide_merge``
(guards + thresholds), as the merge task runs them, scored three ways on the whole set, the
dev split (even ids), the held-out split (odd ids) and per class:

- with verifier: a scripted verify_merge that answers every "verify" pair with its label;
- without verifier: only "merge" decisions (texts equal after normalisation) count;
- baseline: the old similarity-only rule, cosine >= 0.93 merges.

Also the volunteer load (pairs sent to verify) and the guards' catch rate on "different" pairs.
Run by hand from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/merge_quality.py
"""

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")

PAIRS = REPO / "tests" / "data" / "merge_pairs.jsonl"
BASELINE_THRESHOLD = 0.93
TARGET_PRECISION, TARGET_RECALL, TARGET_PARAPHRASE_RECALL = 0.95, 0.8, 0.8


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:.2f}"


def scores(rows: list[dict]) -> dict[str, float | int | None]:
    same = [r for r in rows if r["label"] == "same"]
    different = [r for r in rows if r["label"] == "different"]

    def precision_recall(predicted_same) -> tuple[float | None, float | None]:
        merged = [r for r in rows if predicted_same(r)]
        correct = sum(1 for r in merged if r["label"] == "same")
        return _ratio(correct, len(merged)), _ratio(correct, len(same))

    verified = precision_recall(
        lambda r: r["decision"] == "merge" or (r["decision"] == "verify" and r["label"] == "same")
    )
    unverified = precision_recall(lambda r: r["decision"] == "merge")
    baseline = precision_recall(lambda r: r["similarity"] >= BASELINE_THRESHOLD)
    caught = sum(1 for r in different if r["decision"] == "apart" and r["reason"] != "dissimilar")
    return {
        "pairs": len(rows),
        "p_verifier": verified[0],
        "r_verifier": verified[1],
        "p_alone": unverified[0],
        "r_alone": unverified[1],
        "merges_alone": sum(1 for r in rows if r["decision"] == "merge"),
        "p_baseline": baseline[0],
        "r_baseline": baseline[1],
        "verify": sum(1 for r in rows if r["decision"] == "verify"),
        "caught": _ratio(caught, len(different)),
        "same_kept": _ratio(sum(1 for r in same if r["decision"] != "apart"), len(same)),
    }


def table(groups: dict[str, list[dict]]) -> None:
    print(
        f"{'':24} {'pairs':>5} | {'with verifier':^11} | {'no verifier':^17} | "
        f"{'baseline .93':^11} | {'verify':>6} | {'guards':>6} | {'same':>5}"
    )
    print(
        f"{'':24} {'':>5} | {'P':>5} {'R':>5} | {'P':>5} {'R':>5} {'merges':>6} | "
        f"{'P':>5} {'R':>5} | {'load':>6} | {'catch':>6} | {'kept':>5}"
    )
    for name, rows in groups.items():
        s = scores(rows)
        print(
            f"{name:24} {s['pairs']:5} | {_fmt(s['p_verifier']):>5} {_fmt(s['r_verifier']):>5} | "
            f"{_fmt(s['p_alone']):>5} {_fmt(s['r_alone']):>5} {s['merges_alone']:6} | "
            f"{_fmt(s['p_baseline']):>5} {_fmt(s['r_baseline']):>5} | {s['verify']:6} | "
            f"{_fmt(s['caught']):>6} | {_fmt(s['same_kept']):>5}"
        )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--embedder", help="default: SEARCH_EMBEDDER's")
    parser.add_argument("--show-misses", action="store_true", help="Print every wrong decision.")
    args = parser.parse_args()
    import django

    django.setup()

    from alexandria.embeddings import get_embedder, similarity_threshold
    from alexandria.layers.merge_decision import decide_pairs

    embedder = get_embedder(args.embedder)
    recall = similarity_threshold("MERGE_RECALL_THRESHOLD", embedder.name)
    rows = [json.loads(line) for line in args.pairs.read_text().splitlines() if line.strip()]
    decisions = decide_pairs(
        [(r["a"], r["b"], r["kind"]) for r in rows],
        embedder,
        recall=recall,
    )
    for row, decision in zip(rows, decisions, strict=True):
        row.update(decision.__dict__)
    splits = {
        "all": rows,
        "dev (even ids)": [r for r in rows if r["id"] % 2 == 0],
        "held-out (odd ids)": [r for r in rows if r["id"] % 2 == 1],
    }
    by_class: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_class[row["class"]].append(row)
    print(
        f"{len(rows)} pairs, recall threshold {recall}, "
        f"embedder {embedder.name}; 'guards catch' = share of 'different' pairs a guard keeps "
        "apart; 'same kept' = share of 'same' pairs not kept apart"
    )
    table(splits)
    print()
    table(dict(sorted(by_class.items())))
    reasons: dict[str, int] = defaultdict(int)
    for row in rows:
        reasons[f"{row['decision']}:{row['reason']}"] += 1
    print("\ndecisions:", ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    if args.show_misses:
        for row in rows:
            wrong = (row["label"] == "same") == (row["decision"] == "apart")
            if wrong:
                print(
                    f"  miss #{row['id']} {row['class']} {row['label']} -> {row['decision']}"
                    f" ({row['reason']}, {row['similarity']:.3f}): {row['a']!r} / {row['b']!r}"
                )
    print("\ntargets:")
    for name in ("all", "held-out (odd ids)"):
        s = scores(splits[name])
        ok = (s["p_verifier"] or 0) >= TARGET_PRECISION and (s["r_verifier"] or 0) >= TARGET_RECALL
        print(
            f"  {name}: with verifier precision >= {TARGET_PRECISION} at recall >= "
            f"{TARGET_RECALL}: {_met(ok)} ({_fmt(s['p_verifier'])} / {_fmt(s['r_verifier'])})"
        )
        p_alone = s["p_alone"]
        print(
            f"  {name}: without verifier precision >= {TARGET_PRECISION} for what merges: "
            f"{_met(p_alone is None or p_alone >= TARGET_PRECISION)} ({_fmt(p_alone)}, "
            f"{s['merges_alone']} merges)"
        )
    paraphrases = [r for r in splits["held-out (odd ids)"] if r["label"] == "same"]
    kept = _ratio(sum(1 for r in paraphrases if r["decision"] != "apart"), len(paraphrases))
    print(
        f"  held-out: true paraphrases not kept apart >= {TARGET_PARAPHRASE_RECALL}: "
        f"{_met((kept or 0) >= TARGET_PARAPHRASE_RECALL)} ({_fmt(kept)})"
    )


if __name__ == "__main__":
    main()
