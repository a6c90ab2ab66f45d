"""The one canonical text normalisation that every stored character offset refers to.

Any offset the platform stores (sentence, chunk, anchor) is an index into the output of
`normalize_text`. Changing this function invalidates stored offsets, so it is deliberately
small, deterministic and idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.
"""

import hashlib
import re
import unicodedata

__all__ = ["normalize_text", "sha256_hex"]

# Characters Python's str.splitlines() treats as line boundaries besides \n and \r.
_LINE_BREAKS = str.maketrans(
    {
        "\x0b": "\n",
        "\x0c": "\n",
        "\x1c": "\n",
        "\x1d": "\n",
        "\x1e": "\n",
        "\x85": "\n",
        "\u2028": "\n",
        "\u2029": "\n\n",
    }
)
# C0/C1 controls except \t and \n, DEL, and the byte-order mark / zero-width no-break space.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff]")
# Tab plus every Unicode space separator (category Zs: NBSP, em space, ...), read as a space.
_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUNS = re.compile(r" {2,}")
_TRAILING_SPACES = re.compile(r" +\n")
_BLANK_LINE_RUNS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Return the canonical form of `text` that stored offsets index into.

    Steps, in an order chosen so that the result is a fixed point: CRLF/CR and other line
    separators become LF (a paragraph separator becomes a blank line); control characters
    other than newline and tab are removed; Unicode NFC; tabs and Unicode spaces become a
    plain space; runs of spaces collapse to one; trailing spaces on each line are removed;
    three or more newlines collapse to two; leading and trailing whitespace is stripped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)
    text = _CONTROL_CHARS.sub("", text)
    # NFC after removing controls: a removed control may have separated a base character
    # from its combining mark, and normalising earlier would leave the pair uncomposed.
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_RUNS.sub(" ", text)
    text = _TRAILING_SPACES.sub("\n", text)
    text = _BLANK_LINE_RUNS.sub("\n\n", text)
    return text.strip(" \n")


def sha256_hex(text: str) -> str:
    """SHA-256 hex digest of the UTF-8 bytes of the normalised text.

    Normalises first (a no-op for already normalised text), so two uploads that differ only
    in line endings or spacing hash the same.
    """
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()
