"""The fidelity input: one row per question, ``{text, question, options, answer}``, read from
JSON lines or Parquet and grouped by text (each text is analysed once, however many questions
it has). ``answer`` is the correct option's letter (``"B"``) or its exact text. Without
``options`` the question may list them itself, one ``A) …`` line each, as LAION's released
question sets do."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexandria.core.jsonlines import json_objects

COLUMNS = ("text", "question", "options", "answer")
REQUIRED = ("text", "question", "answer")  # options may be listed inside the question
_OPTION_LINE = re.compile(r"^\s*([A-Z])[).]\s+(\S.*)$")
LETTERS = string.ascii_uppercase
MIN_OPTIONS = 2


class FidelityInputError(Exception):
    """The input cannot be evaluated; the message names the file, the row and the problem."""


@dataclass(frozen=True)
class Question:
    row: int  # 1-based: the line of a JSON-lines file, the row of a Parquet file
    question: str
    options: tuple[str, ...]
    answer: int  # index into options

    @property
    def letter(self) -> str:
        return LETTERS[self.answer]


@dataclass
class EvalText:
    text: str
    questions: list[Question] = field(default_factory=list)


def load_questions(path: Path) -> list[EvalText]:
    """The texts of ``path`` with their questions, in order of first appearance."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows = _parquet_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _json_rows(path)
    else:
        raise FidelityInputError(f"{path}: expected a .jsonl or .parquet file")
    texts: dict[str, EvalText] = {}
    for number, row in rows:
        text, question = _question(number, row)
        texts.setdefault(text, EvalText(text)).questions.append(question)
    if not texts:
        raise FidelityInputError(f"{path}: no questions in it")
    return list(texts.values())


def _json_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FidelityInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise FidelityInputError(f"{path}: not UTF-8 text") from None
    try:
        return list(json_objects(lines))
    except ValueError as exc:
        raise FidelityInputError(f"{path} {exc}") from None


def _parquet_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise FidelityInputError(f"cannot read {path} as Parquet: {exc}") from None
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise FidelityInputError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"it has {', '.join(table.column_names) or 'none'} (needs {', '.join(COLUMNS)})"
        )
    wanted = [name for name in COLUMNS if name in table.column_names]
    return list(enumerate(table.select(wanted).to_pylist(), start=1))


def _listed_options(question: str) -> tuple[str, list[str]] | None:
    """A question that lists its options (``A) …`` lines from A on): its stem and options."""
    lines = question.splitlines()
    first = next(
        (i for i, line in enumerate(lines) if (m := _OPTION_LINE.match(line)) and m[1] == "A"),
        None,
    )
    if first is None:
        return None
    options = []
    for line in lines[first:]:
        match = _OPTION_LINE.match(line)
        if match is None or match[1] != LETTERS[len(options)]:
            return None
        options.append(match[2])
    return "\n".join(lines[:first]), options


def _question(number: int, row: dict[str, Any]) -> tuple[str, Question]:
    """One row checked: a ValueError-like FidelityInputError naming the row otherwise."""

    def bad(problem: str) -> FidelityInputError:
        return FidelityInputError(f"row {number}: {problem}")

    missing = [name for name in REQUIRED if name not in row]
    if missing:
        raise bad(f"missing {', '.join(missing)} (each row needs {', '.join(COLUMNS)})")
    for name in ("text", "question"):
        if not isinstance(row[name], str) or not row[name].strip():
            raise bad(f"{name!r} must be a non-empty string")
    stem, options = row["question"], row.get("options")
    if options is None:
        listed = _listed_options(stem)
        if listed is None:
            raise bad("no 'options', and the question lists none (one 'A) …' line each)")
        stem, options = listed
    if (
        not isinstance(options, list)
        or not MIN_OPTIONS <= len(options) <= len(LETTERS)
        or not all(isinstance(o, str) and o.strip() for o in options)
    ):
        raise bad(f"'options' must be a list of {MIN_OPTIONS} to {len(LETTERS)} non-empty strings")
    options = tuple(option.strip() for option in options)
    if len(set(options)) != len(options):
        raise bad("'options' repeats an option")
    answer = row["answer"]
    letters = LETTERS[: len(options)]
    if isinstance(answer, str) and answer.strip().upper() in letters and len(answer.strip()) == 1:
        index = letters.index(answer.strip().upper())
    elif isinstance(answer, str) and answer.strip() in options:
        index = options.index(answer.strip())
    else:
        raise bad(f"'answer' must be one of {', '.join(letters)} or the text of one option")
    if not stem.strip():
        raise bad("the question is only its options")
    return row["text"], Question(number, stem.strip(), options, index)
