"""A scripted model for the pipeline kinds, served by the fake OpenAI server.

``ScriptedModel`` answers each chat request the way a model would answer that kind's prompt:
for extract_graph it returns the scripted facts whose trigger occurs in the CHUNK it was
sent, so a test decides exactly which (good and broken) facts every chunk produces.
"""

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from alexandria.search.stances import cheap_stance
from jobkinds import (
    TINY,
    derive,
    describe,
    extract_graph,
    get_kind,
    judge_stance,
    judge_usefulness,
    rate_age,
    reconstruct,
    resolve_entities,
    verify_support,
)
from worker.llm import LLMRunner

KIND_NAMES = [
    "extract_graph",
    "resolve_entities",
    "derive",
    "reconstruct",
    "describe",
    "rate_age",
    "verify_support",
]


@dataclass
class ScriptedFact:
    """A fact the model emits for any chunk containing ``trigger``."""

    trigger: str
    fact: dict[str, Any]
    entities: list[dict[str, Any]]


@dataclass
class ScriptedModel:
    facts: list[ScriptedFact] = field(default_factory=list)
    raw_replies: dict[str, str] = field(default_factory=dict)
    summary: str = "A short biography of a scientist and her work on radioactivity."
    derive_extra: list[dict[str, Any]] = field(default_factory=list)
    # False: derive answers derive_extra alone (no Curie hypothesis and instruction).
    derive_curie: bool = True
    # Entity pairs (by name) the model confirms as the same thing; others it denies.
    same_entities: set[frozenset[str]] = field(default_factory=set)

    def __call__(self, request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        user = request["messages"][-1]["content"]
        data = json.loads(user[user.index("\n") + 1 :])
        for name, kind_module in (
            ("extract_graph", extract_graph),
            ("resolve_entities", resolve_entities),
            ("derive", derive),
            ("reconstruct", reconstruct),
            ("describe", describe),
            ("rate_age", rate_age),
            ("judge_usefulness", judge_usefulness),
            ("verify_support", verify_support),
            ("judge_stance", judge_stance),
        ):
            if system.startswith(kind_module.SYSTEM_PROMPT):
                if name in self.raw_replies:
                    return self.raw_replies[name]
                return json.dumps(getattr(self, f"_{name}")(data))
        raise AssertionError(f"unexpected prompt: {system[:80]!r}")

    def _extract_graph(self, data: dict[str, Any]) -> dict[str, Any]:
        chunk = data["CHUNK"]
        chosen = [s for s in self.facts if s.trigger in chunk]
        entities: dict[str, dict[str, Any]] = {}
        for scripted in chosen:
            for entity in scripted.entities:
                entities.setdefault(entity["name"], entity)
        facts = [{**s.fact, "temporal_id": i} for i, s in enumerate(chosen, start=1)]
        return {"entities": list(entities.values()), "facts": facts}

    def _resolve_entities(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "decisions": [
                {
                    "pair_id": p["pair_id"],
                    "same": frozenset((p["a"]["name"], p["b"]["name"])) in self.same_entities,
                }
                for p in data["pairs"]
            ]
        }

    def _derive(self, data: dict[str, Any]) -> dict[str, Any]:
        ids = [fact["anchor_id"] for fact in data["facts"]]
        extras = [
            # An extra item's evidence "first" stands for the first real anchor id, a tuple for
            # the real anchor ids at those positions; a list is sent as it is.
            {**extra, "evidence": [ids[i] for i in _positions(extra["evidence"])]}
            if isinstance(extra["evidence"], str | tuple)
            else extra
            for extra in self.derive_extra
        ]
        if not self.derive_curie:
            return {"hypotheses": extras, "instructions": []}
        if data["title"] != "Marie Curie":
            # Another document: a claim about its own first fact, as an honest model derives.
            first = data["facts"][0]
            claim = f"The document states that {first['subject']} {first['predicate']} "
            return {
                "hypotheses": [
                    hypothesis_about(f"{claim}{first['object']}.", ids[:1]),
                    *extras,
                ],
                "instructions": [],
            }
        return {
            "hypotheses": [
                {
                    "claim": "Marie Curie, born in Warsaw, became a physicist and chemist.",
                    "stance": "supports",
                    "evidence": ids[:2],
                    "confidence": 0.6,
                    "supports": "Letters describing her studies abroad.",
                    "contradicts": "Evidence that she studied physics before moving.",
                },
                *extras,
            ],
            "instructions": [
                {
                    "goal": "Isolate a radioactive element from ore",
                    "prerequisites": ["ore", "acid"],
                    "steps": ["Dissolve the ore in acid.", "Separate and measure fractions."],
                    "evidence": ids[-1:],
                }
            ],
        }

    def _verify_support(self, data: dict[str, Any]) -> dict[str, Any]:
        return judge_support(data["claim"], data["passages"])

    def _reconstruct(self, data: dict[str, Any]) -> dict[str, Any]:
        sentences = [f"{f['subject']} {f['predicate']} {f['object']}." for f in data["facts"]]
        return {"text": " ".join(sentences)}

    def _describe(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "genre": "biography",
            "category": "physics",
            "keywords": ["Radioactivity", "physics", "radioactivity"],
            "summary": self.summary,
        }

    def _rate_age(self, data: dict[str, Any]) -> dict[str, Any]:
        """From the excerpt it was sent, as a careful rater would: violent words rate 16."""
        if _words(data["excerpt"]) & VIOLENT_WORDS:
            return {
                "age_rating": 16,
                "violence": "strong",
                "sexual_content": "none",
                "suitability": "A passage describes a killing in graphic detail.",
            }
        return {
            "age_rating": 6,
            "violence": "none",
            "sexual_content": "none",
            "suitability": "Factual science history without disturbing content.",
        }

    def _judge_stance(self, data: dict[str, Any]) -> dict[str, Any]:
        """From the texts, as a careful judge would answer: contradicts on a negated or
        opposite statement of the same thing, supports when most words are shared, else
        unrelated."""
        claim, other = data["claim"], data["other_statement"]
        if cheap_stance(claim, other).label == "contra":
            return {"relation": "contradicts", "reason": "One negates the other."}
        shared = _words(claim) & _words(other)
        if len(shared) * 2 >= min(len(_words(claim)), len(_words(other))):
            return {"relation": "supports", "reason": "Both make the same claim."}
        return {"relation": "unrelated", "reason": "They are about different things."}

    def _judge_usefulness(self, data: dict[str, Any]) -> dict[str, Any]:
        """Useful unless the item is a fragment or says nothing beyond one item it combines
        (every word of it is in that item), as a careful judge would answer."""
        verdicts = []
        for item in data["items"]:
            words = _words(item["text"])
            restated = [c["id"] for c in item["combines"] if words <= _words(c["text"])]
            if len(words) < MIN_STATEMENT_WORDS:
                verdict = {"useful": False, "reason": "A fragment, not a statement."}
            elif restated:
                verdict = {"useful": False, "reason": f"It only restates item {restated[0]}."}
            else:
                verdict = {"useful": True, "reason": "It combines its inputs into a new claim."}
            verdicts.append({"id": item["id"], **verdict})
        return {"verdicts": verdicts}


MIN_STATEMENT_WORDS = 3
VIOLENT_WORDS = {"stabbed", "slaughtered", "murdered", "blood", "erstochen", "ermordet"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def hypothesis_about(claim: str, evidence: list[int]) -> dict[str, Any]:
    return {"claim": claim, "stance": "supports", "evidence": evidence, "confidence": 0.6}


def _positions(evidence: str | tuple[int, ...]) -> tuple[int, ...]:
    return (0,) if evidence == "first" else evidence


def _stems(text: str) -> set[str]:
    """Content words cut to five letters, so "radioactive" meets "radioactivity"."""
    return {w[:5] for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


NEGATIONS = {"not", "no", "never", "nicht", "kein", "keine", "without"}
SUPPORTING_SHARE = 0.3


def judge_support(claim: str, passages: list[str]) -> dict[str, str]:
    """A careful verify_support verdict: the passages back the claim when they carry a good
    share of its content words with the same polarity; the opposite polarity contradicts it."""
    evidence = " ".join(passages)
    share = len(_stems(claim) & _stems(evidence)) / max(len(_stems(claim)), 1)
    if share < SUPPORTING_SHARE:
        return {"verdict": "unrelated", "reason": "The passages are about something else."}
    negated = {bool(set(re.findall(r"\w+", t.lower())) & NEGATIONS) for t in (claim, evidence)}
    if len(negated) > 1:
        return {"verdict": "contradicts", "reason": "The passages say the opposite."}
    return {"verdict": "supports", "reason": "The passages state the claim."}


def run_with_llm(
    base_url: str, kind: str, payload: dict[str, Any], contract: str = TINY
) -> dict[str, Any]:
    """What a node's LLM runner makes of a payload under the output ``contract`` its lease
    names (JSON-schema checked, one repair)."""

    async def run() -> dict[str, Any]:
        runner = LLMRunner(base_url, model="fake-model", max_retries=0)
        try:
            return (await runner.run(get_kind(kind), payload, contract)).output
        finally:
            await runner.aclose()

    return asyncio.run(run())
