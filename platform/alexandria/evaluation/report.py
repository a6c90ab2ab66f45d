"""The fidelity report: per-condition accuracy, the paired difference with its interval, and
per-question letters, as JSON and as text. It names input rows and letters only, never a
text, question or option, so it can be shared whatever the input's licence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alexandria.evaluation.answering import Choice
from alexandria.evaluation.dataset import LETTERS, EvalText
from alexandria.evaluation.statistics import CONFIDENCE, SEED, cluster_bootstrap

FEW_TEXTS = 10
LABELS = {
    "knowledge": "stored knowledge",
    "original": "original text",
    "no_context": "no context",
}


@dataclass(frozen=True)
class Analysed:
    """What the pipeline left of one input text."""

    source_id: int
    purged: bool
    knowledge: list[str]


def build_report(
    texts: list[EvalText],
    analysed: list[Analysed],
    choices: list[list[dict[str, Choice]]],
    *,
    difference: tuple[str, str],
    meta: dict[str, Any],
    resamples: int,
) -> dict[str, Any]:
    conditions = list(choices[0][0])
    correct = [
        [[choice[c].index == question.answer for c in conditions] for choice, question in
         zip(per_text, item.questions, strict=True)]
        for per_text, item in zip(choices, texts, strict=True)
    ]  # fmt: skip
    estimates, gap = cluster_bootstrap(
        correct,
        difference=(conditions.index(difference[0]), conditions.index(difference[1])),
        resamples=resamples,
    )
    questions = sum(len(item.questions) for item in texts)
    return {
        **meta,
        "texts": len(texts),
        "questions": questions,
        "purged_texts": sum(a.purged for a in analysed),
        "conditions": {
            condition: {
                "correct": sum(q[i] for per_text in correct for q in per_text),
                "accuracy": estimate.value,
                "ci95": [estimate.low, estimate.high],
                "invalid": sum(
                    c[condition].index is None for per_text in choices for c in per_text
                ),
            }
            for i, (condition, estimate) in enumerate(zip(conditions, estimates, strict=True))
        },
        "difference": {
            "of": list(difference),
            "estimate": gap.value,
            "ci95": [gap.low, gap.high],
            "method": "paired cluster bootstrap over texts (percentile interval)",
            "confidence": CONFIDENCE,
            "resamples": resamples,
            "seed": SEED,
        },
        "per_text": [
            {
                "source_id": a.source_id,
                "purged": a.purged,
                "knowledge_lines": len(a.knowledge),
                "rows": [q.row for q in item.questions],
            }
            for a, item in zip(analysed, texts, strict=True)
        ],
        "answers": [
            {
                "row": question.row,
                "gold": question.letter,
                **{c: _letter(choice[c]) for c in conditions},
            }
            for per_text, item in zip(choices, texts, strict=True)
            for choice, question in zip(per_text, item.questions, strict=True)
        ],
    }


def _letter(choice: Choice) -> str | None:
    return None if choice.index is None else LETTERS[choice.index]


def _percent(value: float) -> str:
    return f"{100 * value:5.1f} %"


def format_report(report: dict[str, Any]) -> str:
    first, second = report["difference"]["of"]
    lines = [
        f"Fidelity of {report['model']} on {report['texts']} texts, {report['questions']} "
        f"questions ({report['purged_texts']} of {report['texts']} texts purged after "
        f"analysis; knowledge: {report['knowledge']})",
    ]
    for condition, result in report["conditions"].items():
        low, high = result["ci95"]
        lines.append(
            f"  {LABELS[condition] + ' accuracy:':28} {_percent(result['accuracy'])}  "
            f"({result['correct']}/{report['questions']}; 95 % CI {_percent(low)} to "
            f"{_percent(high)}; {result['invalid']} invalid answers)"
        )
    gap = report["difference"]
    low, high = gap["ci95"]
    lines.append(
        f"  {'difference:':28} {100 * gap['estimate']:+.1f} points ({LABELS[first]} minus "
        f"{LABELS[second]}; 95 % CI {100 * low:+.1f} to {100 * high:+.1f}, paired cluster "
        f"bootstrap over texts, {gap['resamples']} resamples)"
    )
    if report["texts"] < FEW_TEXTS:
        lines.append(
            f"  (only {report['texts']} texts: the intervals are rough; use {FEW_TEXTS} or more)"
        )
    return "\n".join(lines) + "\n"
