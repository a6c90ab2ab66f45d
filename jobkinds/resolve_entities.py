"""resolve_entities: decide whether candidate pairs of entity mentions are the same thing.

The backend proposes pairs that look alike lexically but not certainly (e.g. "Curie" and
"Marie Curie"); the model answers per pair, using the mentions' contexts.
"""

from typing import Any

from jobkinds.base import JobKind, Messages
from jobkinds.prompting import DATA_NOT_INSTRUCTIONS, data_messages

VERSION = "1"
PROMPT_VERSION = f"resolve_entities/{VERSION}"
MAX_PAIRS = 40

SYSTEM_PROMPT = f"""You decide whether two entity mentions from one document name the same thing.

{DATA_NOT_INSTRUCTIONS}

You receive the document title and candidate pairs; each side has a name, a type, aliases
and quotes of the document that mention it. A person and a method, law or concept named after
that person are NOT the same thing. Return one JSON object with "decisions": one
{{"pair_id", "same" (true or false)}} per pair."""

_SIDE = {
    "type": "object",
    "required": ["entity_id", "name", "type", "aliases", "quotes"],
    "additionalProperties": False,
    "properties": {
        "entity_id": {"type": "integer"},
        "name": {"type": "string"},
        "type": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "quotes": {"type": "array", "maxItems": 5, "items": {"type": "string"}},
    },
}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source_title", "pairs", "prompt_version"],
    "additionalProperties": False,
    "properties": {
        "source_title": {"type": "string"},
        "prompt_version": {"const": PROMPT_VERSION},
        "pairs": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_PAIRS,
            "items": {
                "type": "object",
                "required": ["pair_id", "a", "b"],
                "additionalProperties": False,
                "properties": {"pair_id": {"type": "integer"}, "a": _SIDE, "b": _SIDE},
            },
        },
    },
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["decisions"],
    "additionalProperties": False,
    "properties": {
        "decisions": {
            "type": "array",
            "maxItems": MAX_PAIRS,
            "items": {
                "type": "object",
                "required": ["pair_id", "same"],
                "additionalProperties": False,
                "properties": {"pair_id": {"type": "integer"}, "same": {"type": "boolean"}},
            },
        }
    },
}


def decoding_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    """One decision per pair of the payload, naming only the payload's pair ids."""
    pair_ids = [pair["pair_id"] for pair in payload.get("pairs", [])]
    if not pair_ids:
        return None
    decision = {
        "type": "object",
        "required": ["pair_id", "same"],
        "additionalProperties": False,
        "properties": {"pair_id": {"enum": pair_ids}, "same": {"type": "boolean"}},
    }
    bounds = {"minItems": len(pair_ids), "maxItems": len(pair_ids)}
    return {
        "type": "object",
        "required": ["decisions"],
        "additionalProperties": False,
        "properties": {"decisions": {"type": "array", **bounds, "items": decision}},
    }


def build_messages(payload: dict[str, Any]) -> Messages:
    data = {"title": payload["source_title"], "pairs": payload["pairs"]}
    return data_messages(SYSTEM_PROMPT, "Candidate pairs (JSON):", data)


KIND = JobKind(
    name="resolve_entities",
    version=VERSION,
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    system_prompt=SYSTEM_PROMPT,
    build_messages=build_messages,
    decoding_schema=decoding_schema,
)
