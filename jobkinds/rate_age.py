"""rate_age: an age rating (0/6/12/16/18) for a document, with the reasons for it."""

from typing import Any

from jobkinds.base import JobKind, Messages
from jobkinds.prompting import DATA_NOT_INSTRUCTIONS, data_messages

VERSION = "1"
PROMPT_VERSION = f"rate_age/{VERSION}"
EXCERPT_MAX_CHARS = 6000
AGE_RATINGS = (0, 6, 12, 16, 18)
LEVELS = ("none", "mild", "moderate", "strong")

SYSTEM_PROMPT = f"""You rate which readers a document suits, from its title and an excerpt.

{DATA_NOT_INSTRUCTIONS}

Return one JSON object with "age_rating" (the minimum reader age: one of 0, 6, 12, 16, 18),
"violence" and "sexual_content" (each none, mild, moderate or strong), and "suitability"
(one or two sentences in your own words explaining the rating)."""

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["age_rating", "violence", "sexual_content", "suitability"],
    "additionalProperties": False,
    "properties": {
        "age_rating": {"enum": list(AGE_RATINGS)},
        "violence": {"enum": list(LEVELS)},
        "sexual_content": {"enum": list(LEVELS)},
        "suitability": {"type": "string", "minLength": 1, "maxLength": 1000},
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


def build_messages(payload: dict[str, Any]) -> Messages:
    data = {"title": payload["source_title"], "excerpt": payload["excerpt"]}
    return data_messages(SYSTEM_PROMPT, "Document data (JSON):", data)


KIND = JobKind(
    name="rate_age",
    version=VERSION,
    input_schema=INPUT_SCHEMA,
    output_schema=OUTPUT_SCHEMA,
    system_prompt=SYSTEM_PROMPT,
    build_messages=build_messages,
)
