"""Serializer fields for text people send: a string, and one that shows something.

DRF's ``CharField`` turns a JSON number into text (``1e999`` became "inf"), and takes text made
only of zero-width or other invisible characters. ``TextField`` takes strings only;
``VisibleTextField`` also refuses a non-blank value with no visible character (a title of
U+200B alone would show as nothing).
"""

import unicodedata

from rest_framework import serializers

# Letters, numbers, punctuation and symbols show; separators, controls, format characters
# (zero-width space and joiners, direction marks) and marks alone do not.
_VISIBLE_CATEGORIES = frozenset("LNPS")


def has_visible_text(text: str) -> bool:
    """Whether ``text`` has at least one character that shows."""
    return any(unicodedata.category(char)[0] in _VISIBLE_CATEGORIES for char in text)


class TextField(serializers.CharField):
    """A ``CharField`` that takes JSON strings only, never numbers or booleans."""

    default_error_messages = {"invalid": "Not a valid string: send text in quotes."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class VisibleTextField(TextField):
    """A ``TextField`` whose value, unless blank, has a visible character."""

    default_error_messages = {"invisible": "The text has no visible characters."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value.strip() and not has_visible_text(value):
            self.fail("invisible")
        return value
