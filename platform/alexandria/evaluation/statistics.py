"""Accuracy per condition and the paired difference, with 95 % intervals from a cluster
bootstrap over texts.

Why this interval: every condition answers the same questions, so the difference is taken
question by question (paired: a hard question is hard in both conditions and cancels out);
the questions of one text share one extraction, so they are not independent, and resampling
questions would make the interval too narrow. Texts are the units resampled, with replacement,
as LAION resamples papers in its own comparison (results/full/qwen38-size-comparison); the
percentile interval needs no normality of 0/1 outcomes. With few texts it is rough, and with one
text it collapses to the estimate: the report says how many texts it rests on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

RESAMPLES = 10_000
SEED = 250219413  # LAION's seed, so the same input resamples the same way
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


def _interval(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    tail = (1 - CONFIDENCE) / 2
    low = ordered[math.floor(tail * len(ordered))]
    high = ordered[max(math.ceil((1 - tail) * len(ordered)) - 1, 0)]
    return low, high


def cluster_bootstrap(
    correct: Sequence[Sequence[Sequence[bool]]],
    *,
    difference: tuple[int, int],
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[list[Estimate], Estimate]:
    """``correct[text][question][condition]``: whether that answer was right. Returns each
    condition's accuracy and, for ``difference = (a, b)``, accuracy of a minus that of b, each
    with its 95 % percentile interval."""
    a, b = difference
    conditions = len(correct[0][0])
    # Per text: questions, and right answers per condition; a resample only adds these up.
    sums = [
        (len(questions), [sum(q[c] for q in questions) for c in range(conditions)])
        for questions in correct
    ]
    total = sum(n for n, _ in sums)
    point = [sum(right[c] for _, right in sums) / total for c in range(conditions)]
    rng = random.Random(seed)
    samples: list[list[float]] = [[] for _ in range(conditions + 1)]
    for _ in range(resamples):
        drawn = rng.choices(sums, k=len(sums))
        n = sum(size for size, _ in drawn)
        accuracy = [sum(right[c] for _, right in drawn) / n for c in range(conditions)]
        for c in range(conditions):
            samples[c].append(accuracy[c])
        samples[conditions].append(accuracy[a] - accuracy[b])
    estimates = [Estimate(point[c], *_interval(samples[c])) for c in range(conditions)]
    return estimates, Estimate(point[a] - point[b], *_interval(samples[conditions]))
