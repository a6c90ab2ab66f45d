"""Synthetic hypotheses for the search benches: families of paraphrases plus look-alikes
(negations, swapped roles, other numbers) that the guards must keep apart."""

import numpy as np

SUBJECTS = [f"{a} {b}" for a in ("daily", "regular", "moderate", "heavy", "early", "late", "low",
            "high", "chronic", "seasonal") for b in ("exercise", "coffee", "sleep", "stress",
            "smoking", "fasting", "reading", "noise", "sunlight", "screen time", "alcohol",
            "meditation")]  # fmt: skip
OBJECTS = ["blood pressure", "memory", "mood", "heart disease", "insomnia", "focus", "obesity",
           "anxiety", "diabetes", "migraines", "fatigue", "longevity"]  # fmt: skip
VERBS = [("affects", "is affected by"), ("predicts", "is predicted by"),
         ("worsens", "is worsened by"), ("improves", "is improved by"),
         ("influences", "is influenced by")]  # fmt: skip


def statements(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` statements and a family id per statement (same family = same meaning or a
    look-alike of it)."""
    rng = np.random.default_rng(seed)
    texts, families = [], []
    family = 0
    while len(texts) < n:
        s = SUBJECTS[rng.integers(len(SUBJECTS))]
        o = OBJECTS[rng.integers(len(OBJECTS))]
        active, passive = VERBS[rng.integers(len(VERBS))]
        pct = int(rng.integers(5, 95))
        group = family % 1_000_003
        base = f"{s.capitalize()} {active} {o} in {pct}% of adults (cohort {group})."
        variants = [
            base,
            f"{o.capitalize()} {passive} {s} in {pct}% of adults (cohort {group}).",
            f"In {pct}% of adults (cohort {group}), {s} {active} {o}.",
            f"{s.capitalize()} does not affect {o} in {pct}% of adults (cohort {group}).",
            f"{o.capitalize()} {active} {s} in {pct}% of adults (cohort {group}).",
            f"{s.capitalize()} {active} {o} in {pct // 2 + 1}% of adults (cohort {group}).",
        ]
        for text in variants[: int(rng.integers(1, len(variants) + 1))]:
            texts.append(text)
            families.append(family)
        family += 1
    return texts[:n], np.asarray(families[:n])


def family_vectors(families: np.ndarray, dim: int = 384, spread: float = 0.12, seed: int = 0):
    """Stand-in embeddings: one random centre per family, members scattered around it
    (cosine ≈ 0.97 within a family, ≈ 0 across), L2-normalised float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(int(families.max()) + 1, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(scale=spread / np.sqrt(dim), size=(len(families), dim)).astype(np.float32)
    vectors = centres[families] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
