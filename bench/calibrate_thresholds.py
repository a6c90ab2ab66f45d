"""Calibrate the cosine thresholds per embedder on the labelled sets in tests/data.

Each threshold separates pairs that should reach it (positives) from pairs that should stay
below it (negatives), judged the way the code that reads it judges them:

- MERGE_RECALL_THRESHOLD: "same" vs "different" pairs of merge_pairs.jsonl (English) and
  merge_pairs_de.jsonl (German); a pair below the threshold is never even a merge candidate.
  The full merge decision (guards, verifier) is bench/merge_quality.py's.
- ASK_NEIGHBOUR_THRESHOLD: pro/contra vs unrelated statements of stance_triples.jsonl (the
  unrelated ones are on the same topic: what the nearest neighbours in the index look like),
  through the whole selection stage (``NeighbourStage``): nothing but the threshold and the
  number of neighbours decides which pairs become judge_stance jobs and /ask neighbours; the
  words the two share only decide the label shown (alexandria.search.stances).
- ASK_INSTRUCTION_THRESHOLD: instructions that act on a claim vs instructions that do not
  (instruction_pairs.jsonl).
- ABSTRACTION_NOVELTY_THRESHOLD: a proposed layer-2 item that restates one of the items it
  combines (to be dropped) vs a real abstraction (abstraction_pairs.jsonl); the score is the
  highest cosine to any combined item, as layers.services.abstraction computes it.
- SUPPORT_SIMILARITY_FLOOR / PROVENANCE_SIMILARITY_FLOOR: evidence that supports a claim vs
  unrelated evidence; a pair sharing a content word is kept whatever its cosine, as
  pipeline.services.support does. support_pairs.jsonl (the set tests/pipeline/test_support.py
  checks: every support and contradiction kept) and support_pairs_paraphrase.jsonl (no shared
  words, so the cosine alone decides).
- ENTITY_EMBEDDING_THRESHOLD: "name (type family)" of the same entity vs of a different one
  of the same family (entity_pairs.jsonl): a pair at the threshold goes to an LLM check.

Every check has targets: at least ``min_recall`` of the positives reach the threshold and at
most ``max_false`` of the negatives do. The targets are what MiniLM meets at the values it was
tuned to; the bench prints, per embedder, the declared value (``Calibration`` in
alexandria/embeddings.py, or the environment's), its recall and false share, whether it meets
the targets, and the range of values that would. Exit status 1 when a declared value misses,
except for a ``KNOWN_MISSES`` entry: there the recall target still counts, and the false share
above its target is printed as "known" with what it costs.

The known miss: use-multilingual (the default) cannot meet the stance-neighbour targets on
stance_triples at any value, so its bar is chosen recall-first, the highest value that keeps
recall at 0.90 (0.47); more same-topic unrelated pairs pass it than the target allows.

It then prints the stance stage on two further sets, written apart from the first and not
tuned on (English stance_triples_more.jsonl, German stance_triples_de.jsonl: more pairs that
share little wording but bear on each other, and same-topic pairs that share much but do
not). No embedder meets the neighbour targets on them, so they do not count for the exit
status; they show how far the first set's verdict carries.
Run from the repository root (seconds per embedder):

    HF_HUB_OFFLINE=1 .venv/bin/python bench/calibrate_thresholds.py      # SEARCH_EMBEDDER's
    HF_HUB_OFFLINE=1 .venv/bin/python bench/calibrate_thresholds.py --embedder minilm
"""

import argparse
import itertools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")

DATA = REPO / "tests" / "data"
GRID = np.round(np.arange(0.0, 1.0001, 0.01), 2)


def _rows(name: str) -> list[dict]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _cosines(embedder, a: list[str], b: list[str]) -> np.ndarray:
    return np.sum(embedder.embed_texts(a) * embedder.embed_texts(b), axis=1)


@dataclass(frozen=True)
class Scores:
    """Cosines of the positives and negatives; ``always`` marks pairs kept whatever the value
    (support: a shared content word), listed with the positives or negatives they belong to."""

    positives: np.ndarray
    negatives: np.ndarray
    positives_always: np.ndarray
    negatives_always: np.ndarray

    def recall(self, threshold: float) -> float:
        return float(np.mean((self.positives >= threshold) | self.positives_always))

    def false_share(self, threshold: float) -> float:
        return float(np.mean((self.negatives >= threshold) | self.negatives_always))


def _split(cosines: np.ndarray, positive: list[bool], always: list[bool] | None = None) -> Scores:
    positive = np.array(positive)
    kept = np.array(always) if always is not None else np.zeros(len(cosines), dtype=bool)
    return Scores(cosines[positive], cosines[~positive], kept[positive], kept[~positive])


def merge_pairs(name: str) -> Callable[[object], Scores]:
    def scores(embedder) -> Scores:
        rows = _rows(name)
        cosines = _cosines(embedder, [r["a"] for r in rows], [r["b"] for r in rows])
        return _split(cosines, [r["label"] == "same" for r in rows])

    return scores


@dataclass(frozen=True)
class NeighbourStage(Scores):
    """The labelled pairs the stance stage selects, as search.services.judging does: every
    statement of the set is an indexed hypothesis, each one's ``neighbours`` nearest others at
    or above the threshold become pairs, and a pair selected from either end is queued (once).
    /ask takes a claim's RELATED_K (more) nearest at the same threshold as its neighbours, so
    each pair kept here is one there too. ``positives`` / ``negatives`` are the pairs' cosines.
    """

    similarities: np.ndarray  # statement x statement, the diagonal below any threshold
    ends: np.ndarray  # (pair, 2): the pair's statements
    positive: np.ndarray
    neighbours: int

    def selected(self, threshold: float) -> np.ndarray:
        order = np.argsort(-self.similarities, axis=1, kind="stable")[:, : self.neighbours]
        nearest = np.zeros_like(self.similarities, dtype=bool)
        np.put_along_axis(nearest, order, True, axis=1)
        chosen = nearest & (self.similarities >= threshold)
        a, b = self.ends[:, 0], self.ends[:, 1]
        return chosen[a, b] | chosen[b, a]

    def recall(self, threshold: float) -> float:
        return float(np.mean(self.selected(threshold)[self.positive]))

    def false_share(self, threshold: float) -> float:
        return float(np.mean(self.selected(threshold)[~self.positive]))


def neighbour_stage(name: str) -> Callable[[object], Scores]:
    def scores(embedder) -> Scores:
        from django.conf import settings

        rows = _rows(name)
        texts = sorted({r["claim"] for r in rows} | {r["other"] for r in rows})
        position = {text: i for i, text in enumerate(texts)}
        vectors = embedder.embed_texts(texts)
        similarities = vectors @ vectors.T
        np.fill_diagonal(similarities, -np.inf)
        ends = np.array([(position[r["claim"]], position[r["other"]]) for r in rows])
        positive = np.array([r["relation"] != "unrelated" for r in rows])
        cosines = similarities[ends[:, 0], ends[:, 1]]
        return NeighbourStage(
            cosines[positive],
            cosines[~positive],
            np.zeros(positive.sum(), dtype=bool),
            np.zeros((~positive).sum(), dtype=bool),
            similarities,
            ends,
            positive,
            settings.STANCE_NEIGHBOURS,
        )

    return scores


def instructions(embedder) -> Scores:
    rows = _rows("instruction_pairs.jsonl")
    cosines = _cosines(embedder, [r["claim"] for r in rows], [r["instruction"] for r in rows])
    return _split(cosines, [r["label"] == "related" for r in rows])


def novelty(embedder) -> Scores:
    rows = _rows("abstraction_pairs.jsonl")
    highest = []
    for row in rows:
        combined = embedder.embed_texts(row["combines"])
        highest.append(float(np.max(combined @ embedder.embed_texts([row["text"]])[0])))
    cosines = np.array(highest)
    return _split(cosines, [r["label"] == "restatement" for r in rows])


def support(name: str) -> Callable[[object], Scores]:
    def scores(embedder) -> Scores:
        from alexandria.textproc.item_quality import shared_content

        rows = _rows(name)
        cosines = _cosines(embedder, [r["claim"] for r in rows], [r["span"] for r in rows])
        shared = [bool(shared_content(r["claim"], r["span"])) for r in rows]
        return _split(cosines, [r["label"] != "unrelated" for r in rows], shared)

    return scores


def entities(embedder) -> Scores:
    rows = _rows("entity_pairs.jsonl")
    cosines = _cosines(
        embedder,
        [f"{r['a']} ({r['family']})" for r in rows],
        [f"{r['b']} ({r['family']})" for r in rows],
    )
    return _split(cosines, [r["label"] == "same" for r in rows])


@dataclass(frozen=True)
class Check:
    setting: str
    data: str
    positives: str
    scores: Callable[[object], Scores]
    min_recall: float
    max_false: float


CHECKS = [
    Check("MERGE_RECALL_THRESHOLD", "merge_pairs", "same", merge_pairs("merge_pairs.jsonl"),
          0.94, 0.90),
    Check("MERGE_RECALL_THRESHOLD", "merge_pairs_de", "same", merge_pairs("merge_pairs_de.jsonl"),
          0.85, 0.95),
    Check("ASK_NEIGHBOUR_THRESHOLD", "stance_triples", "pro/contra",
          neighbour_stage("stance_triples.jsonl"), 0.90, 0.40),
    Check("ASK_INSTRUCTION_THRESHOLD", "instruction_pairs", "related", instructions, 0.80, 0.05),
    Check("ABSTRACTION_NOVELTY_THRESHOLD", "abstraction_pairs", "restatement", novelty,
          0.75, 0.0),
    Check("SUPPORT_SIMILARITY_FLOOR", "support_pairs", "supports", support("support_pairs.jsonl"),
          1.0, 0.20),
    Check("SUPPORT_SIMILARITY_FLOOR", "support_paraphrase", "supports",
          support("support_pairs_paraphrase.jsonl"), 0.70, 0.15),
    Check("PROVENANCE_SIMILARITY_FLOOR", "support_paraphrase", "supports",
          support("support_pairs_paraphrase.jsonl"), 0.70, 0.15),
    Check("ENTITY_EMBEDDING_THRESHOLD", "entity_pairs", "same", entities, 0.40, 0.15),
]  # fmt: skip


FURTHER = [
    Check("ASK_NEIGHBOUR_THRESHOLD", "stance_triples_more", "pro/contra",
          neighbour_stage("stance_triples_more.jsonl"), 0.90, 0.40),
    Check("ASK_NEIGHBOUR_THRESHOLD", "stance_triples_de", "pro/contra",
          neighbour_stage("stance_triples_de.jsonl"), 0.90, 0.40),
]  # fmt: skip


@dataclass(frozen=True)
class KnownMiss:
    """An embedder's documented miss of a check's false-share target (its recall target still
    counts): printed with its cost, not counted for the exit status."""

    embedder: str
    setting: str
    data: str
    cost: str


KNOWN_MISSES = [
    KnownMiss(
        "use-multilingual", "ASK_NEIGHBOUR_THRESHOLD", "stance_triples",
        "more same-topic unrelated pairs become judge_stance jobs (at most STANCE_NEIGHBOURS per "
        "item, as with any embedder; the judge decides their stance) and /ask shows more "
        "'related' neighbours (at most 3 per group); no wrong knowledge is stored",
    ),
]  # fmt: skip


def known_miss(embedder: str, check: Check) -> KnownMiss | None:
    for miss in KNOWN_MISSES:
        if (miss.embedder, miss.setting, miss.data) == (embedder, check.setting, check.data):
            return miss
    return None


def meets(check: Check, scores: Scores, threshold: float) -> bool:
    return (
        scores.recall(threshold) >= check.min_recall
        and scores.false_share(threshold) <= check.max_false
    )


def counts_as_met(check: Check, scores: Scores, threshold: float, embedder: str) -> bool:
    """Whether ``threshold`` passes the bench for ``embedder``: it meets the targets, or the
    check is a known miss of that embedder and the recall target is met."""
    if known_miss(embedder, check) is not None:
        return scores.recall(threshold) >= check.min_recall
    return meets(check, scores, threshold)


def _ranges(values: np.ndarray) -> str:
    """Contiguous runs of grid values, e.g. "0.74-0.88"."""
    if not len(values):
        return "none"
    runs, start = [], values[0]
    for previous, value in itertools.pairwise(values):
        if value - previous > 0.011:
            runs.append((start, previous))
            start = value
    runs.append((start, values[-1]))
    return ", ".join(f"{a:.2f}" if a == b else f"{a:.2f}-{b:.2f}" for a, b in runs)


def _measure(check: Check, embedder, value: float, *, counted: bool = True) -> bool:
    """Print the check's row (and a known miss's cost); True when ``value`` passes the bench."""
    scores = check.scores(embedder)
    met = meets(check, scores, value)
    passed = counts_as_met(check, scores, value, embedder.name) if counted else met
    verdict = "met" if met else "known" if passed else "NOT MET"
    feasible = GRID[[meets(check, scores, t) for t in GRID]]
    target = f">={check.min_recall:.2f} <={check.max_false:.2f}"
    print(
        f"{check.setting:30} {check.data:19} {len(scores.positives):4} "
        f"{len(scores.negatives):4} {value:5.2f} {scores.recall(value):6.3f} "
        f"{scores.false_share(value):5.3f}  {target:13} {verdict:7} {_ranges(feasible)}"
    )
    if verdict == "known":
        recall_first = GRID[[scores.recall(t) >= check.min_recall for t in GRID]]
        print(
            f"  known miss: {scores.false_share(value):.3f} of the negatives reach {value:.2f} "
            f"(target <= {check.max_false:.2f}); recall >= {check.min_recall:.2f} holds up to "
            f"{recall_first.max():.2f}. Cost: {known_miss(embedder.name, check).cost}."
        )
    return passed


def calibrate(name: str) -> bool:
    from alexandria.embeddings import get_embedder, similarity_threshold

    embedder = get_embedder(name)
    print(f"embedder {name}: value, recall of positives / share of negatives at or above it")
    print(
        f"{'setting':30} {'set':19} {'pos':>4} {'neg':>4} {'value':>5} {'recall':>6} "
        f"{'false':>5}  {'target':13} {'':7} values meeting it"
    )
    all_met = True
    for check in CHECKS:
        all_met &= _measure(check, embedder, similarity_threshold(check.setting, name))
    print("further stance sets (not counted):")
    for check in FURTHER:
        _measure(check, embedder, similarity_threshold(check.setting, name), counted=False)
    return all_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--embedder", help="use-multilingual or minilm (default: SEARCH_EMBEDDER's)"
    )
    args = parser.parse_args()
    import django
    from django.conf import settings

    django.setup()
    sys.exit(0 if calibrate(args.embedder or settings.SEARCH_EMBEDDER) else 1)


if __name__ == "__main__":
    main()
