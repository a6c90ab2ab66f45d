"""A scripted model for the pipeline kinds, served by the fake OpenAI server.

``ScriptedModel`` answers each chat request the way a model would answer that kind's prompt:
for extract_graph it returns the scripted facts whose trigger occurs in the CHUNK it was
sent, so a test decides exactly which (good and broken) facts every chunk produces.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from jobkinds import (
    derive,
    describe,
    extract_graph,
    get_kind,
    rate_age,
    reconstruct,
    resolve_entities,
)
from worker.llm import LLMRunner

KIND_NAMES = ["extract_graph", "resolve_entities", "derive", "reconstruct", "describe", "rate_age"]


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
        return {
            "hypotheses": [
                {
                    "claim": "Her early move abroad shaped her scientific career.",
                    "stance": "supports",
                    "evidence": ids[:2],
                    "confidence": 0.6,
                    "supports": "Letters describing her studies abroad.",
                    "contradicts": "Evidence that she studied physics before moving.",
                },
                # An extra item's evidence "first" stands for the first real anchor id.
                *(
                    {**extra, "evidence": ids[:1]} if extra["evidence"] == "first" else extra
                    for extra in self.derive_extra
                ),
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
        return {
            "age_rating": 6,
            "violence": "none",
            "sexual_content": "none",
            "suitability": "Factual science history without disturbing content.",
        }


def run_with_llm(base_url: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What a node's LLM runner makes of a payload (JSON-schema checked, one repair)."""

    async def run() -> dict[str, Any]:
        runner = LLMRunner(base_url, model="fake-model", max_retries=0)
        try:
            return (await runner.run(get_kind(kind), payload)).output
        finally:
            await runner.aclose()

    return asyncio.run(run())
