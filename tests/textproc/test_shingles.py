import random

import pytest

from alexandria.textproc.shingles import copied_runs, key_id, shingle_hashes, words

KEY = b"test-key"
SOURCE = (
    "The mitochondrion is the powerhouse of the cell and produces most of the chemical energy "
    "needed to power the biochemical reactions of the cell. Chemical energy produced by the "
    "mitochondria is stored in a small molecule called adenosine triphosphate."
)


def runs(output: str, source: str = SOURCE, *, n: int = 12, key: bytes = KEY) -> list[str]:
    """The runs of ``output`` a fingerprint of ``source`` (hashed with KEY) recognises."""
    held = set(shingle_hashes([w.token for w in words(source)], key=KEY, n=n))
    found = copied_runs(output, lambda hashes: [h in held for h in hashes], key=key, n=n)
    return [run.text for run in found]


def test_paraphrase_passes():
    output = "Mitochondria make most of a cell's chemical energy, which is stored as ATP."
    assert runs(output) == []


def test_copied_run_is_reported_as_the_output_substring():
    output = (
        "Summary: THE MITOCHONDRION is the powerhouse of the cell, and produces most of the "
        "chemical energy needed. Other words follow."
    )
    assert runs(output) == [
        "THE MITOCHONDRION is the powerhouse of the cell, and produces most of the chemical "
        "energy needed"
    ]


def test_runs_shorter_than_n_pass_and_n_is_configurable():
    output = "It is the powerhouse of the cell and produces most of it."  # 10 shared words
    assert runs(output) == []
    assert runs(output, n=8) == ["is the powerhouse of the cell and produces most of"]


def test_separate_runs_are_reported_separately():
    first = "the mitochondrion is the powerhouse of the cell and produces most of the"
    second = "chemical energy produced by the mitochondria is stored in a small molecule called"
    output = f"{first} -- my own words in between -- {second}"
    assert runs(output) == [first, second]


def test_touching_runs_are_one_run_with_its_position_and_length():
    output = "one two " + SOURCE
    held = set(shingle_hashes([w.token for w in words(SOURCE)], key=KEY, n=12))
    (run,) = copied_runs(output, lambda hashes: [h in held for h in hashes], key=KEY, n=12)
    assert (run.first_word, run.word_count) == (2, len(words(SOURCE)))


def test_punctuation_and_apostrophes_do_not_hide_a_copy():
    source = "Don't panic: the answer to the great question of life is forty two, said the machine"
    output = "dont panic the answer to the great question of life is forty-two"
    assert runs(output, source) == [output]


def test_case_diacritics_compatibility_forms_and_invisible_characters_do_not_hide_a_copy():
    source = "Café owners in Zürich said the new rules would change their trade beyond recognition"
    output = (
        "CAFE\u0301 OWNERS IN ZU\u0308RICH said the new ru\u00adles would change their "
        "trade be\u200byond recognition"
    )
    assert [w.token for w in words(output)][:4] == ["cafe", "owners", "in", "zurich"]
    assert [w.token for w in words("signi\ufb01cant")] == ["significant"]
    assert runs(output, source) == [
        "CAF\u00c9 OWNERS IN Z\u00dcRICH said the new ru\u00adles "
        "would change their trade be\u200byond recognition"
    ]


def test_a_fingerprint_made_with_another_key_recognises_nothing():
    assert runs(SOURCE) != []
    assert runs(SOURCE, key=b"another key") == []
    assert key_id(KEY) != key_id(b"another key") and len(key_id(KEY)) == 16


def test_large_inputs_are_fast_enough():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(500)]
    source = " ".join(rng.choice(vocab) for _ in range(40000))
    source_words = source.split()
    output = " ".join(rng.choice(vocab) for _ in range(300)) + " " + " ".join(source_words[100:130])
    assert runs(output, source) == [" ".join(source_words[100:130])]


def test_invalid_n():
    with pytest.raises(ValueError, match="at least 1"):
        shingle_hashes(["a"], key=KEY, n=0)
