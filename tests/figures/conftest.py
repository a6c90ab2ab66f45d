"""Fixtures of the figure tests."""

import pytest

from tests.support.figures import figure_prefix, tiny_clip  # noqa: F401
from tests.support.tiny_clip import tiny_clip_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The tiny open_clip model's random weights, saved as a deployment places a checkpoint."""
    return tiny_clip_weights(tmp_path_factory.mktemp("clip") / "weights.bin")
