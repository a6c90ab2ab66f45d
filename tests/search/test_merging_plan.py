"""The merge planner on its own: no transitive chains, and blocking finds what brute force finds."""

import numpy as np

from alexandria.layers.merge_planning import MergeEntry, candidate_pairs, plan_merges


def unit(angle_degrees: float) -> np.ndarray:
    angle = np.radians(angle_degrees)
    return np.array([np.cos(angle), np.sin(angle)], dtype=np.float32)


def test_no_transitive_chain():
    # A~B (0.95), B~C (0.95), but A≁C (cos 36° ≈ 0.81 < recall): C must not join A's cluster.
    entries = [
        MergeEntry(1, "hypothesis", "Alpha text."),
        MergeEntry(2, "hypothesis", "alpha text"),
        MergeEntry(3, "hypothesis", "ALPHA  TEXT!"),
    ]
    vectors = np.vstack([unit(0), unit(18.2), unit(36.4)])
    assert vectors[0] @ vectors[2] < 0.82
    plan = plan_merges(entries, vectors, recall=0.82)
    assert [(p.canonical_id, p.item_id) for p in plan.merges] == [(1, 2)]
    assert plan.verifications == []


def test_fixed_items_absorb_but_never_merge():
    entries = [
        MergeEntry(5, "hypothesis", "Same words here", fixed=True),
        MergeEntry(9, "hypothesis", "Same words here", fixed=True),
        MergeEntry(7, "hypothesis", "Same words here"),
    ]
    vectors = np.vstack([unit(0), unit(0.5), unit(1)])
    plan = plan_merges(entries, vectors, recall=0.8)
    assert [(p.canonical_id, p.item_id) for p in plan.merges] == [(9, 7)]


def test_kinds_never_merge_and_uncertain_pairs_go_to_a_vote():
    entries = [
        MergeEntry(1, "hypothesis", "Walking improves concentration."),
        MergeEntry(2, "instruction", "Walking improves concentration."),
        MergeEntry(3, "hypothesis", "Walking helps people concentrate."),
    ]
    vectors = np.vstack([unit(0), unit(0), unit(25)])  # cos 25° ≈ 0.906
    plan = plan_merges(entries, vectors, recall=0.8)
    assert plan.merges == []
    assert [(p.canonical_id, p.item_id) for p in plan.verifications] == [(1, 3)]


def test_similarity_alone_never_merges_and_guards_count_their_vetoes():
    entries = [
        MergeEntry(1, "hypothesis", "Tariffs raise prices."),
        MergeEntry(2, "hypothesis", "Prices are raised by tariffs."),
        MergeEntry(3, "hypothesis", "Tariffs may raise prices."),
    ]
    vectors = np.vstack([unit(0), unit(1), unit(2)])  # all above 0.99
    plan = plan_merges(entries, vectors, recall=0.8)
    assert plan.merges == []
    assert [(p.canonical_id, p.item_id) for p in plan.verifications] == [(1, 2)]
    assert plan.vetoed == {"hedging": 2}


def test_blocked_recall_matches_brute_force_on_clustered_data():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(400, 32))
    members = np.repeat(centres, 20, axis=0) + rng.normal(scale=0.08, size=(8000, 32))
    vectors = (members / np.linalg.norm(members, axis=1, keepdims=True)).astype(np.float32)
    blocked = candidate_pairs(vectors, 0.9)
    exact = vectors @ vectors.T
    i, j = np.nonzero(np.tril(exact >= 0.9, k=-1))
    found = {(int(a), int(b)) for a, b, _ in blocked}
    recall = len(found & set(zip(i.tolist(), j.tolist(), strict=True))) / len(i)
    assert recall > 0.98
    assert all(exact[a, b] >= 0.9 for a, b in found)
