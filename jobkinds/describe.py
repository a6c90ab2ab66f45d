"""describe: genre, category, keywords and a short summary of a document (from an excerpt)."""

from typing import Any

from jobkinds.base import JobKind, Messages
from jobkinds.prompting import DATA_NOT_INSTRUCTIONS, data_messages

VERSION = "1"
PROMPT_VERSION = f"describe/{VERSION}"
EXCERPT_MAX_CHARS = 6000

SYSTEM_PROMPT = f"""You catalogue a document from its title and an excerpt.

{DATA_NOT_INSTRUCTIONS}

Return one JSON object with "genre" (e.g. research article, textbook, novel, news, manual,
essay, poem), "category" (its main subject area, e.g. physics, history, cooking), "keywords"
(3 to 10 short lowercase keywords) and "summary" (at most three sentences in your own words;
do not copy sentences from the excerpt)."""

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["genre", "category", "keywords", "summary"],
    "additionalProperties": False,
    "properties": {
        "genre": {"type": "string", "minLength": 1, "maxLength": 100},
        "category": {"type": "string", "minLength": 1, "maxLength": 100},
        "keywords": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "minLength": 1, "maxLength": 60},
        },
        "summary": {"type": "string", "minLength": 1, "maxLength": 1500},
    },
}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source_title", "excerpt", "prompt_version"],
    "additionalProperties": False,
    "properties": {
        "source_title": {"type": "string"},
        "excerpt": {"type": "string", "minLength": 1, "maxLength": EXCERPT_MAX_CHARS},
        "prompt_version": {"const": PROMPT_VERSION},
    },
}


DECODING_MAX_KEYWORDS = 8
DECODING_MAX_LABEL_CHARS = 60


def decoding_schema(payload: dict[str, Any]) -> dict[str, Any]:
    """Short labels and a few keywords; the summary stays free."""
    label = {"type": "string", "minLength": 1, "maxLength": DECODING_MAX_LABEL_CHARS}
    return {
        **OUTPUT_SCHEMA,
        "properties": {
            **OUTPUT_SCHEMA["properties"],
            "genre": label,
            "category": label,
            "keywords": {
                "type": "array",
                "minItems": 1,
                "maxItems": DECODING_MAX_KEYWORDS,
                "items": {"type": "string", "minLength": 1, "maxLength": 40},
            },
        },
    }


def build_messages(payload: dict[str, Any]) -> Messages:
    data = {"title": payload["source_title"], "excerpt": payload["excerpt"]}
    return data_messages(SYSTEM_PROMPT, "Document data (JSON):", data)


KIND = JobKind(
    name="describe",
    version=VERSION,
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    system_prompt=SYSTEM_PROMPT,
    build_messages=build_messages,
    decoding_schema=decoding_schema,
)
