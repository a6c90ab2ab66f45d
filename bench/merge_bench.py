"""Merge planning of synthetic hypotheses (candidate recall + guards + leader clustering),
excluding LLM verification and embedding (stand-in vectors; see bench/synthetic.py).

Run by hand from the repository root (target: 100k < 120 s, sub-quadratic growth):

    .venv/bin/python bench/merge_bench.py --sizes 10000,100000
"""

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]

from synthetic import family_vectors, statements  # noqa: E402

from alexandria.layers.merge_planning import MergeEntry, candidate_pairs, plan_merges  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--recall", type=float, default=0.8)
    args = parser.parse_args()
    previous = None
    for n in (int(s) for s in args.sizes.split(",")):
        texts, families = statements(n)
        vectors = family_vectors(families)
        entries = [MergeEntry(i, "hypothesis", text) for i, text in enumerate(texts)]
        started = time.perf_counter()
        pairs = candidate_pairs(vectors, args.recall)
        recall_s = time.perf_counter() - started
        started = time.perf_counter()
        plan = plan_merges(entries, vectors, recall=args.recall)
        total = time.perf_counter() - started
        print(
            f"n={n}: merge plan {total:.1f} s (of which candidate recall ~{recall_s:.1f} s, "
            f"{len(pairs)} candidate pairs); {len(plan.merges)} merges, "
            f"{len(plan.verifications)} LLM votes, vetoed {plan.vetoed}"
        )
        if previous:
            growth = total / previous[1]
            ratio = n / previous[0]
            print(
                f"  growth x{growth:.1f} for x{ratio:.0f} items "
                f"(quadratic would be x{ratio**2:.0f})"
            )
        previous = (n, total)


if __name__ == "__main__":
    main()
