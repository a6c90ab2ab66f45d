import random
import unicodedata

import pytest

from alexandria.textproc.normalize import normalize_text, sha256_hex

# Characters that exercise every normalisation step, including tricky interactions:
# combining marks next to removed controls, compatibility spaces, CR/LF mixes.
_ALPHABET = [
    "a", "B", "é", "e", "\u0301", "\u0327", "\u212b", "ß", " ", "  ", "\t", "\n", "\r", "\r\n",
    "\x00", "\x07", "\x1f", "\x7f", "\x85", "\x0b", "\x0c", "\u00a0", "\u2000", "\u2003",
    "\u3000", "\u2028", "\u2029", "\ufeff", "\u200b", ".", "-", "“", "Å", "\U0001f600",
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\tb", "a b"),
        ("a    b", "a b"),
        ("a \u00a0\u2003 b", "a b"),
        ("line   \nnext", "line\nnext"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("a\n \n \n b", "a\n\n b"),
        ("  \n padded \n\n", "padded"),
        ("bell\x07 and nul\x00 gone", "bell and nul gone"),
        ("e\u0301", "\u00e9"),
        ("e\x00\u0301", "\u00e9"),  # NFC must run after control removal
        ("\ufeffbom", "bom"),
        ("page\x0cbreak", "page\nbreak"),
        ("para\u2029next", "para\n\nnext"),
        ("", ""),
    ],
)
def test_normalize_examples(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_is_idempotent_and_canonical_on_random_text():
    rng = random.Random(20240611)
    for _ in range(3000):
        raw = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))
        once = normalize_text(raw)
        assert normalize_text(once) == once, repr(raw)
        assert unicodedata.is_normalized("NFC", once)
        assert "\r" not in once and "\t" not in once and "  " not in once
        assert "\n\n\n" not in once
        assert once == once.strip()
        assert all(line == line.rstrip(" ") for line in once.split("\n"))
        assert not any(unicodedata.category(c) == "Cc" and c != "\n" for c in once)


def test_sha256_hex_hashes_the_normalised_utf8_bytes():
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex("a  b\r\n") == sha256_hex("a b")
    assert sha256_hex("a b") != sha256_hex("a  c")
