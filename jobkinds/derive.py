"""derive: a document's anchored facts → hypotheses and instructions citing their evidence.

The node sees the facts and their anchor fragments, never the full text. Every item cites
anchor ids from the payload; the backend drops items whose evidence is not an anchor of the
document.
"""

from typing import Any

from jobkinds.base import JobKind, Messages
from jobkinds.prompting import DATA_NOT_INSTRUCTIONS, SAME_LANGUAGE, data_messages

VERSION = "1"
PROMPT_VERSION = f"derive/{VERSION}"
MAX_FACTS = 150

SYSTEM_PROMPT = f"""You derive knowledge items from the facts of one document.

{DATA_NOT_INSTRUCTIONS}

You receive the document title and its facts in order; each fact has an "anchor_id" and the
anchor "fragment" (a short quote of the document that states it). Return one JSON object with:
- "hypotheses": claims the document puts forward or that its facts support:
  {{"claim", "stance" (supports | refutes | neutral: the document's stance towards the claim),
  "evidence" (anchor_ids of the facts it rests on), "confidence" (0 to 1),
  "supports" (what further observation would support it), "contradicts" (what would
  contradict it)}}.
- "instructions": procedures the document describes: {{"goal", "prerequisites" (list),
  "steps" (ordered list), "evidence" (anchor_ids)}}.
Write every text in your own words; do not copy long passages. {SAME_LANGUAGE} Cite only
anchor_ids that appear in the input. Return empty lists when the facts support nothing."""

_EVIDENCE = {"type": "array", "minItems": 1, "maxItems": 30, "items": {"type": "integer"}}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["hypotheses", "instructions"],
    "additionalProperties": False,
    "properties": {
        "hypotheses": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["claim", "stance", "evidence", "confidence"],
                "additionalProperties": False,
                "properties": {
                    "claim": _TEXT,
                    "stance": {"enum": ["supports", "refutes", "neutral"]},
                    "evidence": _EVIDENCE,
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "supports": {"type": "string", "maxLength": 2000},
                    "contradicts": {"type": "string", "maxLength": 2000},
                },
            },
        },
        "instructions": {
            "type": "array",
            "maxItems": 30,
            "items": {
                "type": "object",
                "required": ["goal", "steps", "evidence"],
                "additionalProperties": False,
                "properties": {
                    "goal": _TEXT,
                    "prerequisites": {"type": "array", "maxItems": 30, "items": _TEXT},
                    "steps": {"type": "array", "minItems": 1, "maxItems": 50, "items": _TEXT},
                    "evidence": _EVIDENCE,
                },
            },
        },
    },
}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source_title", "facts", "prompt_version"],
    "additionalProperties": False,
    "properties": {
        "source_title": {"type": "string"},
        "prompt_version": {"const": PROMPT_VERSION},
        "facts": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_FACTS,
            "items": {
                "type": "object",
                "required": ["anchor_id", "fragment", "subject", "predicate", "object"],
                "additionalProperties": False,
                "properties": {
                    "anchor_id": {"type": "integer"},
                    "fragment": {"type": "string"},
                    "subject": {"type": "string"},
                    "predicate": {"type": "string"},
                    "object": {"type": "string"},
                },
            },
        },
    },
}


DECODING_MAX_HYPOTHESES = 4
DECODING_MAX_INSTRUCTIONS = 2
DECODING_MAX_EVIDENCE = 4
DECODING_MAX_TEXT_CHARS = 80  # 80 is the bound kept in grammars
# Grammars cannot bound a number; a few round values can be listed instead.
DECODING_CONFIDENCES = [0.3, 0.5, 0.7, 0.9]


def decoding_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Evidence drawn from the payload's anchor ids only, at least one hypothesis, few items."""
    anchor_ids = sorted({fact["anchor_id"] for fact in payload.get("facts", [])})
    if not anchor_ids:
        return None
    evidence = {
        "type": "array",
        "minItems": 1,
        "maxItems": DECODING_MAX_EVIDENCE,
        "items": {"enum": anchor_ids},
    }
    text = {"type": "string", "minLength": 1, "maxLength": DECODING_MAX_TEXT_CHARS}
    return {
        "type": "object",
        "required": ["hypotheses", "instructions"],
        "additionalProperties": False,
        "properties": {
            "hypotheses": {
                "type": "array",
                "minItems": 1,
                "maxItems": DECODING_MAX_HYPOTHESES,
                "items": {
                    "type": "object",
                    "required": ["evidence", "claim", "stance", "confidence"],
                    "additionalProperties": False,
                    "properties": {
                        "evidence": evidence,
                        "claim": text,
                        "stance": {"enum": ["supports", "refutes", "neutral"]},
                        "confidence": {"enum": DECODING_CONFIDENCES},
                    },
                },
            },
            "instructions": {
                "type": "array",
                "maxItems": DECODING_MAX_INSTRUCTIONS,
                "items": {
                    "type": "object",
                    "required": ["evidence", "goal", "steps"],
                    "additionalProperties": False,
                    "properties": {
                        "evidence": evidence,
                        "goal": text,
                        "steps": {"type": "array", "minItems": 1, "maxItems": 5, "items": text},
                    },
                },
            },
        },
    }


def build_messages(payload: dict[str, Any]) -> Messages:
    data = {"title": payload["source_title"], "facts": payload["facts"]}
    return data_messages(SYSTEM_PROMPT, "Document facts (JSON):", data)


KIND = JobKind(
    name="derive",
    version=VERSION,
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    system_prompt=SYSTEM_PROMPT,
    build_messages=build_messages,
    decoding_schema=decoding_schema,
    # The capable contract keeps the output schema's bounds (50 hypotheses, 30 instructions,
    # texts of 2,000 characters) and its supports / contradicts / prerequisites.
    tiny_limits={"hypotheses": DECODING_MAX_HYPOTHESES, "instructions": DECODING_MAX_INSTRUCTIONS},
)
