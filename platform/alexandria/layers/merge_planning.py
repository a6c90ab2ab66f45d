"""Merge planning: which items say the same thing. Pure numpy + guards, no Django.

1. Candidate recall: pairs with cosine similarity >= ``recall``. Small sets are compared in
   full (row blocks); large ones are blocked first: vectors are assigned to their two nearest
   of ~sqrt(n) k-means centroids and only pairs within a block are compared, so the work grows
   like n**1.5 instead of n**2.
2. Leader clustering in order (fixed canonical items first, then by id): an item joins the
   most similar earlier item that is still canonical, so it can only join a cluster through
   the cluster's canonical item and never through a chain of look-alikes.
3. Each pair gets ``merge_decision.decide_merge``: texts equal after normalisation merge, a
   pair a guard objects to stays apart, any other goes to an LLM vote (``verify``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from alexandria.layers.merge_decision import decide_merge

BRUTE_FORCE_MAX = 6000
ROW_BLOCK = 2048
KMEANS_ITERATIONS = 6
KMEANS_SAMPLE = 20000
ASSIGNMENTS_PER_VECTOR = 2


@dataclass(frozen=True)
class MergeEntry:
    id: int
    kind: str
    text: str
    """The text compared: ``merge_decision.merge_text`` (an instruction's goal and steps)."""
    fixed: bool = False
    """Already a settled canonical item: may absorb others, never merges itself."""


@dataclass(frozen=True)
class PlannedPair:
    canonical_id: int
    item_id: int
    similarity: float


@dataclass
class MergePlan:
    merges: list[PlannedPair] = field(default_factory=list)
    verifications: list[PlannedPair] = field(default_factory=list)
    vetoed: dict[str, int] = field(default_factory=dict)
    candidate_pairs: int = 0


def _pairs_in_block(vectors: np.ndarray, rows: np.ndarray, threshold: float) -> np.ndarray:
    """(i, j, similarity) with i > j among ``rows`` (global indices, sorted)."""
    block = vectors[rows]
    found = []
    for start in range(0, len(rows), ROW_BLOCK):
        sims = block[start : start + ROW_BLOCK] @ block.T
        local_i, local_j = np.nonzero(sims >= threshold)
        global_i, global_j = rows[local_i + start], rows[local_j]
        keep = global_i > global_j
        if keep.any():
            found.append(
                np.stack(
                    [
                        global_i[keep].astype(np.float64),
                        global_j[keep].astype(np.float64),
                        sims[local_i[keep], local_j[keep]].astype(np.float64),
                    ],
                    axis=1,
                )
            )
    return np.concatenate(found) if found else np.zeros((0, 3))


def _kmeans_blocks(vectors: np.ndarray, seed: int) -> list[np.ndarray]:
    """Spherical k-means on a sample; each vector lands in the blocks of its two nearest
    centroids, so near-duplicates split across a boundary still meet in one block."""
    n = len(vectors)
    rng = np.random.default_rng(seed)
    k = max(2, int(np.sqrt(n)))
    sample = vectors[rng.choice(n, size=min(n, KMEANS_SAMPLE), replace=False)]
    centroids = sample[rng.choice(len(sample), size=k, replace=False)]
    for _ in range(KMEANS_ITERATIONS):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        counts = np.bincount(nearest, minlength=k)
        empty = counts == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    assignments = np.empty((n, ASSIGNMENTS_PER_VECTOR), dtype=np.int64)
    for start in range(0, n, ROW_BLOCK):
        scores = vectors[start : start + ROW_BLOCK] @ centroids.T
        top = np.argpartition(-scores, ASSIGNMENTS_PER_VECTOR - 1, axis=1)
        assignments[start : start + ROW_BLOCK] = top[:, :ASSIGNMENTS_PER_VECTOR]
    members = np.repeat(np.arange(n), ASSIGNMENTS_PER_VECTOR)
    blocks = assignments.ravel()
    order = np.argsort(blocks, kind="stable")
    boundaries = np.searchsorted(blocks[order], np.arange(k + 1))
    return [
        np.sort(members[order[boundaries[b] : boundaries[b + 1]]])
        for b in range(k)
        if boundaries[b + 1] - boundaries[b] > 1
    ]


def candidate_pairs(vectors: np.ndarray, threshold: float, *, seed: int = 0) -> np.ndarray:
    """Unique (i, j, similarity) rows, i > j, similarity >= threshold (see module doc)."""
    n = len(vectors)
    if n < 2:
        return np.zeros((0, 3))
    if n <= BRUTE_FORCE_MAX:
        return _pairs_in_block(vectors, np.arange(n), threshold)
    found = [_pairs_in_block(vectors, rows, threshold) for rows in _kmeans_blocks(vectors, seed)]
    pairs = np.concatenate(found) if found else np.zeros((0, 3))
    if not len(pairs):
        return pairs
    keys = pairs[:, 0].astype(np.int64) * n + pairs[:, 1].astype(np.int64)
    _, first = np.unique(keys, return_index=True)
    return pairs[first]


def plan_merges(
    entries: Sequence[MergeEntry],
    vectors: np.ndarray,
    *,
    recall: float,
) -> MergePlan:
    """Decide merges for the non-fixed entries. ``vectors`` are L2-normalised, row per entry.

    Entries are processed fixed ones first, then in the given order (callers pass id order).
    """
    order = sorted(range(len(entries)), key=lambda i: (not entries[i].fixed, i))
    pairs = candidate_pairs(np.asarray(vectors, dtype=np.float32)[order], recall)
    plan = MergePlan(candidate_pairs=len(pairs))
    if not len(pairs):
        return plan
    # Group candidates by their later item, most similar first.
    by_item = np.lexsort((-pairs[:, 2], pairs[:, 0]))
    pairs = pairs[by_item]
    later = pairs[:, 0].astype(np.int64)
    starts = np.searchsorted(later, np.arange(len(entries) + 1))
    merged = np.zeros(len(entries), dtype=bool)
    for position in np.unique(later):
        entry = entries[order[position]]
        if entry.fixed:
            continue
        for _, earlier, similarity in pairs[starts[position] : starts[position + 1]]:
            earlier = int(earlier)
            if merged[earlier]:
                continue  # joined a cluster: only its canonical item accepts new members
            canonical = entries[order[earlier]]
            if canonical.kind != entry.kind:
                continue
            decision = decide_merge(
                canonical.text, entry.text, entry.kind, similarity, recall=recall
            )
            if decision.decision == "apart":
                plan.vetoed[decision.reason] = plan.vetoed.get(decision.reason, 0) + 1
                continue
            pair = PlannedPair(canonical.id, entry.id, decision.similarity)
            if decision.decision == "merge":
                plan.merges.append(pair)
                merged[position] = True
            else:
                plan.verifications.append(pair)
            break
    return plan
