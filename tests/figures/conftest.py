"""Fixtures of the figure tests."""

from tests.support.figures import figure_prefix, tiny_clip  # noqa: F401
