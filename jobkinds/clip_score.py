"""clip_score: LAION-5B style image/text filtering with open_clip cosine similarity."""

from jobkinds.base import JobKind

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_THRESHOLD = 0.28

KIND = JobKind(
    name="clip_score",
    version="1",
    runner="clip",
    input_schema={
        "type": "object",
        "required": ["pairs"],
        "additionalProperties": False,
        "properties": {
            "pairs": {
                "type": "array",
                "minItems": 1,
                "maxItems": 256,
                "items": {
                    "type": "object",
                    "required": ["id", "text", "image_b64"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "text": {"type": "string"},
                        "image_b64": {"type": "string", "minLength": 1},
                    },
                },
            },
            "model": {"type": "string", "minLength": 1, "default": DEFAULT_MODEL},
            "threshold": {
                "type": "number",
                "minimum": -1,
                "maximum": 1,
                "default": DEFAULT_THRESHOLD,
            },
        },
    },
    output_schema={
        "type": "object",
        "required": ["model", "scores"],
        "additionalProperties": False,
        "properties": {
            "model": {"type": "string"},
            "scores": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "similarity", "keep"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "string"},
                        "similarity": {"type": "number", "minimum": -1, "maximum": 1},
                        "keep": {"type": "boolean"},
                    },
                },
            },
        },
    },
)
