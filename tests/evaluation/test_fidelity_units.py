"""The parts of ``alexandria eval fidelity`` that need no pipeline: reading the input, reading a
model's choice, and the paired cluster bootstrap."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alexandria.evaluation.answering import parse_choice
from alexandria.evaluation.dataset import FidelityInputError, load_questions
from alexandria.evaluation.statistics import cluster_bootstrap
from tests.evaluation import QUESTIONS

OPTIONS = ("1688", "1752", "1794", "1931")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("C", 2),
        (" (C) ", 2),
        (";C;", 2),
        ("**C**", 2),
        ("C) 1794", 2),
        ("C. 1794", 2),
        ("The answer is (C).", 2),
        ("Answer: C", 2),
        ("answer: option C", 2),
        ("<think>A or B? The text says 1794.</think>\nC", 2),
        ("It was built in 1794.", 2),
        ("I would say B, since the mill is older.", 1),
        ("A", 0),
        # Nothing, several, or a letter that is not an option: no choice (counted wrong).
        ("", None),
        ("A or B", None),
        ("1688 or 1752", None),
        ("E", None),
        ("<think>It is C", None),
    ],
)
def test_parse_choice(reply, expected):
    assert parse_choice(reply, OPTIONS) == expected


def test_an_option_inside_another_is_named_by_the_longer():
    assert parse_choice("It grinds wheat and barley.", ("wheat", "wheat and barley")) == 1


def test_jsonl_and_parquet_read_the_same(tmp_path):
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    parquet = tmp_path / "questions.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)

    from_jsonl, from_parquet = load_questions(QUESTIONS), load_questions(parquet)

    assert from_jsonl == from_parquet
    assert [len(text.questions) for text in from_jsonl] == [3, 3]
    # Letters in either case and an option's text all name the option.
    assert [q.letter for text in from_jsonl for q in text.questions] == list("CADBDB")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"text": "t", "question": "q?", "options": ["a", "b"]}, "row 1: missing answer"),
        ({"text": "t", "question": "q?", "options": "a b", "answer": "A"}, "'options' must be"),
        ({"text": "t", "question": "q?", "options": ["a", "a"], "answer": "A"}, "repeats"),
        ({"text": "t", "question": "q?", "options": ["a", "b"], "answer": "C"}, "'answer' must"),
        ({"text": " ", "question": "q?", "options": ["a", "b"], "answer": "A"}, "'text' must"),
    ],
)
def test_bad_rows_are_named(tmp_path, row, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(FidelityInputError, match=problem):
        load_questions(path)


def test_options_listed_in_the_question_as_laion_writes_them(tmp_path):
    path = tmp_path / "laion.parquet"
    question = "When was the mill built?\nA) 1688\nB) 1794\nC) 1931"
    pq.write_table(pa.table({"text": ["t"], "question": [question], "answer": ["B"]}), path)
    (only,) = load_questions(path)
    (read,) = only.questions
    assert (read.question, read.options, read.letter) == (
        "When was the mill built?",
        ("1688", "1794", "1931"),
        "B",
    )


@pytest.mark.parametrize(
    "question", ["When was the mill built?", "When?\nA) 1688\nC) 1931", "A) 1688\nB) 1794"]
)
def test_a_question_without_options_is_refused(tmp_path, question):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "t", "question": question, "answer": "A"}) + "\n")
    with pytest.raises(FidelityInputError, match="row 1: "):
        load_questions(path)


def test_parquet_without_a_column_names_it(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": ["t"], "question": ["q?"], "options": [["a", "b"]]}), path)
    with pytest.raises(FidelityInputError, match=r"missing column\(s\) answer"):
        load_questions(path)


def test_the_difference_is_paired_question_by_question():
    # Both conditions right and wrong on the same questions: no difference in any resample,
    # although each accuracy alone varies with the texts drawn.
    texts = [[(True, True), (False, False)], [(True, True)], [(False, False)] * 3]
    (first, second), gap = cluster_bootstrap(texts, difference=(0, 1), resamples=500)
    assert (gap.value, gap.low, gap.high) == (0.0, 0.0, 0.0)
    assert first.low < first.value < first.high
    assert first == second


def test_texts_not_questions_are_resampled():
    # Two texts of ten questions, one all right and one all wrong: drawn by text, a resample is
    # often all right or all wrong; drawn by question it would almost never be.
    texts = [[(True, False)] * 10, [(False, False)] * 10]
    (accuracy, _), gap = cluster_bootstrap(texts, difference=(0, 1), resamples=2000)
    assert accuracy.value == 0.5
    assert (accuracy.low, accuracy.high) == (0.0, 1.0)
    assert (gap.low, gap.high) == (0.0, 1.0)
