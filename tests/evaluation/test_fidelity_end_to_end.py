"""Acceptance: ``alexandria eval fidelity`` runs end to end, as a user runs it, and prints both
accuracies.

The command runs in its own process: a fresh embedded platform, a real ``alexandria-worker``
and the pipeline to the purge, all against a scripted OpenAI-compatible server. The script
extracts two of the three facts each question set asks about, and answers a question right
exactly when the context it was sent holds the right option, so the stored knowledge scores
4 of 6 and the original text 6 of 6; with no context it answers wrong.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alexandria.evaluation.answering import NO_CONTEXT, SYSTEM_PROMPT
from alexandria.evaluation.dataset import LETTERS, load_questions
from jobkinds import abstract, verify_merge
from tests.evaluation import QUESTIONS
from tests.pipeline.documents import attribute, relation
from tests.pipeline.scripted import ScriptedFact, ScriptedModel, hypothesis_about

REPO_ROOT = Path(__file__).resolve().parents[2]
MILL = {"name": "Harwick tide mill", "type": "building"}
STATION = {"name": "Kestrel Ridge weather station", "type": "organization"}
VARGA = {"name": "Ines Varga", "type": "person"}
# Two facts of each text; what the third question asks (the grain, the supplies) is left out.
FACTS = [
    ScriptedFact(
        "built in 1794",
        attribute("Harwick tide mill", "was built in", "1794", "It was built in 1794"),
        [MILL],
    ),
    ScriptedFact(
        "wheel of oak",
        attribute("Harwick tide mill", "has a wheel made of", "oak",
                  "the stored water turns a wheel of oak"),
        [MILL],
    ),
    ScriptedFact(
        "founded in 1968",
        attribute("Kestrel Ridge weather station", "was founded in", "1968",
                  "It was founded in 1968"),
        [STATION],
    ),
    ScriptedFact(
        "geographer Ines Varga",
        relation("Ines Varga", "founded", "Kestrel Ridge weather station",
                 "founded in 1968 by the geographer Ines Varga"),
        [VARGA, STATION],
    ),
]  # fmt: skip
# How the scripted model words a right answer, by question: the command must read them all.
REPLY_FORMS = ["{letter}", "The answer is ({letter}).", "{letter}) {option}", ";{letter};",
               "<think>Between A and B…</think>\n{letter}", "I choose {option}."]  # fmt: skip


class FidelityModel(ScriptedModel):
    """The pipeline's kinds as ``ScriptedModel`` answers them, but one hypothesis per fact, each
    supported by its anchor; and the fidelity questions answered from the context alone."""

    def __init__(self) -> None:
        super().__init__(facts=FACTS)
        questions = [q for text in load_questions(QUESTIONS) for q in text.questions]
        self.questions = {q.question: (n, q) for n, q in enumerate(questions)}
        self.contexts: dict[str, list[str]] = {}

    def __call__(self, request: dict[str, Any]) -> str:
        system, user = (m["content"] for m in request["messages"])
        if system == SYSTEM_PROMPT:
            return self._answer(user)
        if system.startswith(verify_merge.SYSTEM_PROMPT):
            return json.dumps({"same_meaning": False, "reason": "Different facts."})
        # Nothing more abstract follows from two facts about a mill and a weather station.
        if system.startswith(abstract.PROBE_PROMPT):
            return json.dumps({"phase": "probe", "useless": True, "probes": []})
        if system.startswith(abstract.COMPOSE_PROMPT):
            return json.dumps({"phase": "compose", "useless": True, "items": []})
        return super().__call__(request)

    def _derive(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "hypotheses": [
                hypothesis_about(
                    f"{f['subject']} {f['predicate']} {f['object']}.", [f["anchor_id"]]
                )
                for f in data["facts"]
            ],
            "instructions": [],
        }

    def _verify_support(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"verdict": "supports", "reason": "The passage states the claim."}

    def _answer(self, user: str) -> str:
        context = user.split("CONTEXT:\n", 1)[1].split("\n\nQUESTION:\n", 1)[0]
        asked = user.split("QUESTION:\n", 1)[1].split("\n\nOPTIONS:", 1)[0]
        number, question = self.questions[asked]
        self.contexts.setdefault(asked, []).append(context)
        right = question.options[question.answer]
        if right.lower() not in context.lower():
            return LETTERS[(question.answer + 1) % len(question.options)]
        form = REPLY_FORMS[number % len(REPLY_FORMS)]
        return form.format(letter=question.letter, option=right)


def run_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "platform")]),
        "HF_HUB_OFFLINE": "1",
        # The scripted model answers in microseconds: on a quiet machine its token rate looks
        # impossible, the node is flagged and every job waits for a replica no one runs.
        "MAX_PLAUSIBLE_TOKENS_PER_S": "100000000",
    }
    return subprocess.run(
        [sys.executable, "-m", "alexandria.cli", "eval", "fidelity", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
    )


def test_fidelity_runs_the_pipeline_and_prints_both_accuracies(fake_openai, tmp_path):
    model = FidelityModel()
    fake_openai.responder = model
    report_path = tmp_path / "report.json"

    done = run_command(
        str(QUESTIONS),
        "--llm-base-url", fake_openai.base_url,
        "--model", "fake-model",
        "--var-dir", str(tmp_path / "var"),
        "--no-context",
        "--with-facts",
        "--timeout", "150",
        "--stall-after", "60",
        "--output", str(report_path),
        "--resamples", "2000",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "original text accuracy:      100.0 %  (6/6;" in out, out
    assert "stored knowledge accuracy:    66.7 %  (4/6;" in out, out
    assert "no context accuracy:           0.0 %  (0/6;" in out, out
    assert "difference:                  -33.3 points" in out, out
    assert "2 of 2 texts purged after analysis; knowledge: items and facts" in out, out

    report = json.loads(report_path.read_text())
    conditions = report["conditions"]
    assert [conditions[c]["correct"] for c in ("knowledge", "original", "no_context")] == [4, 6, 0]
    assert all(conditions[c]["invalid"] == 0 for c in conditions)
    # Both texts lose their third question alone, so every resample of texts differs the same.
    assert report["difference"]["ci95"] == pytest.approx([-1 / 3, -1 / 3])
    assert [a["knowledge"] == a["gold"] for a in report["answers"]] == [True, True, False] * 2
    assert [text["knowledge_lines"] for text in report["per_text"]] == [4, 4]  # 2 items, 2 facts
    # Nothing of a text or a question is in the report: rows and letters only.
    originals = [text.text for text in load_questions(QUESTIONS)]
    assert not any(text[:40] in report_path.read_text() for text in originals)

    # The knowledge condition saw what is stored of its own text alone: its items, then its
    # graph's facts; never the purged text.
    mill = (
        "- Harwick tide mill was built in 1794.\n"
        "- Harwick tide mill has a wheel made of oak.\n"
        "- Harwick tide mill | was built in | 1794\n"
        "- Harwick tide mill | has a wheel made of | oak"
    )
    for asked, contexts in model.contexts.items():
        knowledge = [c for c in contexts if c != NO_CONTEXT and c not in originals]
        assert len(knowledge) == 1, asked
        assert NO_CONTEXT in contexts
        if "Harwick" in asked:
            assert knowledge[0] == mill
        else:
            assert "Ines Varga | founded | Kestrel Ridge weather station" in knowledge[0]
            assert "Harwick" not in knowledge[0]
