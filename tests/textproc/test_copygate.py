import random

import pytest

from alexandria.textproc.copygate import long_verbatim_runs

SOURCE = (
    "The mitochondrion is the powerhouse of the cell and produces most of the chemical energy "
    "needed to power the biochemical reactions of the cell. Chemical energy produced by the "
    "mitochondria is stored in a small molecule called adenosine triphosphate."
)


def test_paraphrase_passes():
    output = "Mitochondria make most of a cell's chemical energy, which is stored as ATP."
    assert long_verbatim_runs(output, SOURCE) == []


def test_copied_run_is_reported_as_the_output_substring():
    output = (
        "Summary: THE MITOCHONDRION is the powerhouse of the cell, and produces most of the "
        "chemical energy needed. Other words follow."
    )
    assert long_verbatim_runs(output, SOURCE) == [
        "THE MITOCHONDRION is the powerhouse of the cell, and produces most of the chemical "
        "energy needed"
    ]


def test_runs_shorter_than_n_pass_and_n_is_configurable():
    output = "It is the powerhouse of the cell and produces most of it."  # 10 shared words
    assert long_verbatim_runs(output, SOURCE) == []
    assert long_verbatim_runs(output, SOURCE, n=8) == [
        "is the powerhouse of the cell and produces most of"
    ]


def test_separate_runs_are_reported_separately():
    first = "the mitochondrion is the powerhouse of the cell and produces most of the"
    second = "chemical energy produced by the mitochondria is stored in a small molecule called"
    output = f"{first} -- my own words in between -- {second}"
    assert long_verbatim_runs(output, SOURCE) == [first, second]


def test_runs_inside_allowed_anchor_spans_are_ignored():
    anchor = "Chemical energy produced by the mitochondria is stored in a small molecule"
    start = SOURCE.index(anchor)
    output = f'{{"anchor": "{anchor}", "statement": "ATP stores energy."}}'
    assert long_verbatim_runs(output, SOURCE) != []
    assert long_verbatim_runs(output, SOURCE, allowed_spans=[(start, start + len(anchor))]) == []


def test_copying_beyond_an_allowed_span_is_reported_whole():
    anchor = "The mitochondrion is the powerhouse of the cell"
    output = "The mitochondrion is the powerhouse of the cell and produces most of the energy"
    copied = "The mitochondrion is the powerhouse of the cell and produces most of the"
    assert long_verbatim_runs(output, SOURCE, allowed_spans=[(0, len(anchor))]) == [copied]
    whole = "The mitochondrion is the powerhouse of the cell and produces most of the chemical"
    assert long_verbatim_runs(whole, SOURCE, allowed_spans=[(0, len(whole))]) == []


def test_punctuation_and_apostrophes_do_not_hide_a_copy():
    source = "Don't panic: the answer to the great question of life is forty two, said the machine"
    output = "dont panic the answer to the great question of life is forty-two"
    assert long_verbatim_runs(output, source) == [output]


def test_large_inputs_are_fast_enough():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(500)]
    source = " ".join(rng.choice(vocab) for _ in range(40000))
    words = source.split()
    output = " ".join(rng.choice(vocab) for _ in range(300)) + " " + " ".join(words[100:130])
    assert long_verbatim_runs(output, source) == [" ".join(words[100:130])]


def test_invalid_n():
    with pytest.raises(ValueError, match="at least 1"):
        long_verbatim_runs("a", "a", n=0)
