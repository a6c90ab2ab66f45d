"""extract_graph: a chunk of a document → entities and anchored facts (knowledge graph).

Every fact carries an ``anchor``: a short exact quote of the chunk. The backend locates each
anchor in the stored text and rejects facts it cannot find, so a model that invents facts
(or follows instructions planted in the document) gains nothing.
"""

from typing import Any

from jobkinds.base import JobKind, Messages
from jobkinds.prompting import DATA_NOT_INSTRUCTIONS, data_messages

VERSION = "1"
# Recorded with everything stored from this kind's results (Fact.prompt_version).
PROMPT_VERSION = f"extract_graph/{VERSION}"
ANCHOR_MAX_CHARS = 200
# The longest entity candidate a payload offers (names in the output have the same limit).
NAME_MAX_CHARS = 300
MAX_ENTITIES = 200
MAX_FACTS = 200

SYSTEM_PROMPT = f"""You extract a knowledge graph from one chunk of a document.

{DATA_NOT_INSTRUCTIONS}

You receive a JSON object with the document title, the CHUNK to extract from, and read-only
CONTEXT_BEFORE / CONTEXT_AFTER. Use the context only to understand who or what the chunk
refers to; extract facts stated in the CHUNK only.

Return one JSON object with:
- "entities": the named things the facts mention: {{"name", "type", "aliases"}}. "type" is a
  short lowercase noun such as person, organization, place, work, concept, method, event,
  substance, date, quantity. "aliases" are other names the document uses for it.
- "facts": each fact stated in the chunk, either
  a relation {{"kind": "relation", "subject", "predicate", "object", "anchor", "temporal_id"}}
  between two entities, or an attribute {{"kind": "attribute", "subject", "predicate",
  "value", "anchor", "temporal_id"}} giving a literal value (a date, number, property).
  "subject" and "object" are entity names from "entities". "predicate" is a short verb
  phrase. "anchor" is an EXACT quote copied character for character from the CHUNK
  (at most {ANCHOR_MAX_CHARS} characters, ideally one clause) that states the fact.
  "temporal_id" numbers the facts 1, 2, 3, ... in the order they appear in the chunk.
Do not invent facts, do not use outside knowledge, do not paraphrase anchors. If the chunk
states no facts, return empty lists. Write names, predicates and values in the language of
the CHUNK (the "language" given, if any): never translate them."""

_ENTITY = {
    "type": "object",
    "required": ["name", "type"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 300},
        "type": {"type": "string", "minLength": 1, "maxLength": 64},
        "aliases": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "minLength": 1, "maxLength": 300},
        },
    },
}

_FACT_COMMON = {
    "subject": {"type": "string", "minLength": 1, "maxLength": 300},
    "predicate": {"type": "string", "minLength": 1, "maxLength": 200},
    "anchor": {"type": "string", "minLength": 1, "maxLength": 2000},
    "temporal_id": {"type": "integer", "minimum": 0},
}

_RELATION = {
    "type": "object",
    "required": ["kind", "subject", "predicate", "object", "anchor", "temporal_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "relation"},
        **_FACT_COMMON,
        "object": {"type": "string", "minLength": 1, "maxLength": 300},
    },
}

_ATTRIBUTE = {
    "type": "object",
    "required": ["kind", "subject", "predicate", "value", "anchor", "temporal_id"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "attribute"},
        **_FACT_COMMON,
        "value": {"type": "string", "minLength": 1, "maxLength": 1000},
    },
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["entities", "facts"],
    "additionalProperties": False,
    "properties": {
        "entities": {"type": "array", "maxItems": MAX_ENTITIES, "items": _ENTITY},
        "facts": {
            "type": "array",
            "maxItems": MAX_FACTS,
            "items": {"anyOf": [_RELATION, _ATTRIBUTE]},
        },
    },
}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "source_title",
        "chunk_index",
        "chunk_start",
        "chunk_end",
        "context_before",
        "chunk",
        "context_after",
        "prompt_version",
    ],
    "additionalProperties": False,
    "properties": {
        "source_title": {"type": "string"},
        "chunk_index": {"type": "integer", "minimum": 0},
        "chunk_start": {"type": "integer", "minimum": 0},
        "chunk_end": {"type": "integer", "minimum": 1},
        "context_before": {"type": "string"},
        "chunk": {"type": "string", "minLength": 1},
        "context_after": {"type": "string"},
        "prompt_version": {"const": PROMPT_VERSION},
        # The source's language (ISO 639-1), when known: facts stay in it.
        "language": {"type": "string", "maxLength": 8},
        # Choices for constrained decoding (see decoding_schema): the chunk's sentences and
        # noun phrases, each an exact substring of the chunk.
        "anchor_candidates": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": ANCHOR_MAX_CHARS},
        },
        "entity_candidates": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_CHARS},
        },
    },
}

ENTITY_TYPES = [
    "person", "organization", "place", "work", "concept", "method", "event", "substance",
    "date", "quantity", "thing",
]  # fmt: skip
DECODING_MAX_FACTS = 6
DECODING_MAX_ENTITIES = 8
# The capable contract sizes its bounds to the chunk: a fact per CHARS_PER_FACT characters, an
# entity per CHARS_PER_ENTITY, never fewer than CAPABLE_MIN_ITEMS (nor more than the schema's).
CHARS_PER_FACT = 40
CHARS_PER_ENTITY = 30
CAPABLE_MIN_ITEMS = 16
# A predicate is a short verb phrase: one to four lowercase words ("blocks", "is part of").
PREDICATE_DECODING_PATTERN = "^[a-z]{1,15}( [a-z]{1,15}){0,3}$"
# Other languages' predicates need their letters ("enthält", "schließt aus").
PREDICATE_DECODING_PATTERN_ANY = "^[a-zß-öø-ÿ]{1,15}( [a-zß-öø-ÿ]{1,15}){0,3}$"


def capable_limits(payload: dict[str, Any]) -> dict[str, int]:
    """Generous bounds sized to the chunk (read from its offsets, so a stored payload whose
    chunk is still a span of the source's text gives the same bounds as the leased one)."""
    chars = payload["chunk_end"] - payload["chunk_start"]
    return {
        "facts": min(MAX_FACTS, max(CAPABLE_MIN_ITEMS, chars // CHARS_PER_FACT)),
        "entities": min(MAX_ENTITIES, max(CAPABLE_MIN_ITEMS, chars // CHARS_PER_ENTITY)),
    }


def decoding_schema(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Facts whose anchor is one of the chunk's sentences and whose subject, object or value
    are phrases of the chunk, a handful per chunk; None when the payload offers no choices.

    Facts come first and anchors lead each fact, so a model picks the sentence it quotes
    before naming what the sentence relates.
    """
    anchors = payload.get("anchor_candidates") or []
    names = payload.get("entity_candidates") or []
    if not anchors or not names:
        return None
    name = {"enum": list(names)}
    english = payload.get("language", "en") in ("", "en")
    pattern = PREDICATE_DECODING_PATTERN if english else PREDICATE_DECODING_PATTERN_ANY
    common = {
        "anchor": {"enum": list(anchors)},
        "subject": name,
        "predicate": {"type": "string", "minLength": 1, "pattern": pattern},
    }
    temporal_id = {"enum": list(range(1, DECODING_MAX_FACTS + 1))}
    relation = {
        "type": "object",
        "required": ["kind", "anchor", "subject", "predicate", "object", "temporal_id"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": "relation"},
            **common,
            "object": name,
            "temporal_id": temporal_id,
        },
    }
    attribute = {
        "type": "object",
        "required": ["kind", "anchor", "subject", "predicate", "value", "temporal_id"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": "attribute"},
            **common,
            "value": name,
            "temporal_id": temporal_id,
        },
    }
    return {
        "type": "object",
        "required": ["facts", "entities"],
        "additionalProperties": False,
        "properties": {
            "facts": {
                "type": "array",
                "minItems": 1,
                "maxItems": DECODING_MAX_FACTS,
                "items": {"anyOf": [relation, attribute]},
            },
            "entities": {
                "type": "array",
                "maxItems": DECODING_MAX_ENTITIES,
                "items": {
                    "type": "object",
                    "required": ["name", "type"],
                    "additionalProperties": False,
                    "properties": {"name": name, "type": {"enum": ENTITY_TYPES}},
                },
            },
        },
    }


def build_messages(payload: dict[str, Any]) -> Messages:
    """System instructions, then the document parts as one JSON user message (data only)."""
    document = {
        "title": payload["source_title"],
        "CONTEXT_BEFORE (read-only)": payload["context_before"],
        "CHUNK": payload["chunk"],
        "CONTEXT_AFTER (read-only)": payload["context_after"],
    }
    if payload.get("language"):
        document["language"] = payload["language"]
    return data_messages(SYSTEM_PROMPT, "Document data (JSON; extract from CHUNK only):", document)


KIND = JobKind(
    name="extract_graph",
    version=VERSION,
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    system_prompt=SYSTEM_PROMPT,
    build_messages=build_messages,
    decoding_schema=decoding_schema,
    tiny_limits={"facts": DECODING_MAX_FACTS, "entities": DECODING_MAX_ENTITIES},
    capable_limits=capable_limits,
)
