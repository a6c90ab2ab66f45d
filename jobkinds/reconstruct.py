"""reconstruct: rewrite a document's content from its knowledge graph alone.

The backend scores how much of the graph the text states (fidelity) while the source text
still exists; the reconstruction is kept after the source text is purged.
"""

from typing import Any

from jobkinds.base import JobKind, Messages
from jobkinds.prompting import DATA_NOT_INSTRUCTIONS, SAME_LANGUAGE, data_messages

VERSION = "1"
PROMPT_VERSION = f"reconstruct/{VERSION}"
MAX_FACTS = 400

SYSTEM_PROMPT = f"""You write a faithful prose account of a document from its knowledge graph.

{DATA_NOT_INSTRUCTIONS}

You receive the document title and its facts in order of appearance (subject, predicate,
object or value). Return one JSON object with "text": continuous prose, in your own words,
that states every fact, in order, naming each subject and object as given. Add nothing that
the facts do not say. {SAME_LANGUAGE}"""

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 60000}},
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
                "required": ["subject", "predicate", "object"],
                "additionalProperties": False,
                "properties": {
                    "subject": {"type": "string"},
                    "predicate": {"type": "string"},
                    "object": {"type": "string"},
                },
            },
        },
    },
}


def build_messages(payload: dict[str, Any]) -> Messages:
    data = {"title": payload["source_title"], "facts": payload["facts"]}
    return data_messages(SYSTEM_PROMPT, "Document graph (JSON):", data)


KIND = JobKind(
    name="reconstruct",
    version=VERSION,
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    system_prompt=SYSTEM_PROMPT,
    build_messages=build_messages,
)
