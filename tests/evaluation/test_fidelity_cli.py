"""``alexandria eval fidelity`` as a command: bad input and an unreachable model exit 2 with a
message before any work; the answering and the report, with the pipeline's result given."""

import json
import re
import socket

import pytest

from alexandria.cli import main
from alexandria.evaluation import fidelity
from alexandria.evaluation.dataset import load_questions
from alexandria.evaluation.report import Analysed
from tests.evaluation import QUESTIONS
from tests.support.fake_openai import FakeReply


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def run(path, base_url: str, *extra: str) -> int:
    return main(["eval", "fidelity", str(path), "--llm-base-url", base_url, "--model", "m", *extra])


@pytest.fixture
def no_pipeline(monkeypatch):
    """Fails the test if the command went on to run the pipeline."""

    def refuse(args, texts):
        raise AssertionError("the pipeline ran")

    monkeypatch.setattr(fidelity, "analyse", refuse)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("absent.jsonl", None, "cannot read"),
        ("broken.jsonl", '{"text": "t",\n', "line 1: not JSON"),
        ("list.jsonl", "[1, 2]\n", "line 1: expected a JSON object"),
        ("columns.jsonl", '{"passage": "t", "question": "q?"}\n', "missing text, answer"),
        ("empty.jsonl", "\n", "no questions"),
        ("questions.csv", "text,question\n", "expected a .jsonl or .parquet file"),
        ("fake.parquet", "not parquet", "cannot read .* as Parquet"),
    ],
)
def test_bad_input_exits_2_before_any_work(
    tmp_path, capsys, fake_openai, no_pipeline, name, content, message
):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert run(path, fake_openai.base_url) == 2
    err = capsys.readouterr().err
    assert err.startswith("alexandria eval fidelity: ")
    assert re.search(message, err), err
    assert fake_openai.requests == []


@pytest.mark.parametrize("flag", ["--concurrency", "--answer-concurrency", "--resamples"])
def test_a_count_below_one_is_refused_before_any_work(tmp_path, capsys, no_pipeline, flag):
    with pytest.raises(SystemExit) as exited:
        run(tmp_path / "q.jsonl", "http://127.0.0.1:9", flag, "0")
    assert exited.value.code == 2
    assert f"{flag}: must be at least 1, not 0" in capsys.readouterr().err


def test_an_unreachable_model_exits_2_before_any_work(capsys, no_pipeline):
    url = closed_port_url()
    assert run(QUESTIONS, url) == 2
    assert f"cannot reach {url}" in capsys.readouterr().err


def test_a_model_that_dies_while_answering_exits_2(capsys, monkeypatch, fake_openai):
    monkeypatch.setattr(
        fidelity, "analyse", lambda args, texts: [Analysed(1, True, []), Analysed(2, True, [])]
    )
    fake_openai.responder = lambda request: FakeReply(status=503, error="overloaded")
    monkeypatch.setattr("alexandria.evaluation.answering.RETRY_DELAY_S", 0)
    assert run(QUESTIONS, fake_openai.base_url) == 2
    assert "answered 503" in capsys.readouterr().err


def test_json_report_from_what_the_pipeline_stored(capsys, monkeypatch, fake_openai, tmp_path):
    stored = {1: ["- The mill was built in 1794."], 2: []}
    monkeypatch.setattr(
        fidelity,
        "analyse",
        lambda args, texts: [Analysed(pk, True, lines) for pk, lines in stored.items()],
    )

    # Right when the context holds the right option: the mill's year, and every question
    # asked over the original text; otherwise no letter at all.
    questions = {q.question: q for text in load_questions(QUESTIONS) for q in text.questions}

    def answer(request):
        user = request["messages"][1]["content"]
        context, asked = user.split("\n\nQUESTION:\n")
        question = questions[asked.split("\n\nOPTIONS:")[0]]
        if question.options[question.answer] in context:
            return f"The answer is {question.letter}."
        return "no idea"

    fake_openai.responder = answer
    output = tmp_path / "report.json"

    assert run(QUESTIONS, fake_openai.base_url, "--json", "--output", str(output)) == 0

    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(output.read_text())
    assert report["conditions"]["knowledge"]["correct"] == 1
    assert report["conditions"]["knowledge"]["invalid"] == 5
    assert report["conditions"]["original"]["correct"] == 6
    assert report["difference"]["estimate"] == pytest.approx(-5 / 6)
    assert report["answers"][0] == {"row": 1, "gold": "C", "knowledge": "C", "original": "C"}
    assert len(fake_openai.requests) == 12
    assert all(r["temperature"] == 0 and r["model"] == "m" for r in fake_openai.requests)
