"""clip_embed: a figure's CLIP image embedding and how well its caption agrees (LAION-5B style).

The server sends a source's figures (the image, hydrated at lease time like chunk text, and the
caption) and the open_clip model to use, named with its weights (``model``: "ViT-B-32/<tag or
sha256 of the weights file>"); the node answers with unit-length image embeddings and the
cosine of each image and its caption under the same model. Results computed with other weights
are rejected: their vectors would not share the figure collection's space.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

from jobkinds.base import JobKind

# A job carries a handful of figures: images make payloads large, and a lease is priced by size.
MAX_FIGURES = 8
MAX_CAPTION_CHARS = 1000
# Widest embedding a known open_clip model returns (ViT-bigG-14: 1280).
MAX_DIMENSION = 2048
# The weights' name when there are none (random, different in every process).
UNTRAINED = "untrained"

KIND = JobKind(
    name="clip_embed",
    version="1",
    runner="clip",
    input_schema={
        "type": "object",
        "required": ["model", "figures"],
        "additionalProperties": False,
        "properties": {
            "model": {"type": "string", "minLength": 1, "maxLength": 200},
            "figures": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_FIGURES,
                "items": {
                    "type": "object",
                    "required": ["id", "caption", "image_b64"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "caption": {"type": "string", "maxLength": MAX_CAPTION_CHARS},
                        "image_b64": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
    },
    output_schema={
        "type": "object",
        "required": ["model", "figures"],
        "additionalProperties": False,
        "properties": {
            "model": {"type": "string", "maxLength": 200},
            "figures": {
                "type": "array",
                "maxItems": MAX_FIGURES,
                "items": {
                    "type": "object",
                    "required": ["id", "embedding", "caption_similarity"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "embedding": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_DIMENSION,
                            "items": {"type": "number"},
                        },
                        # None: the figure has no caption to compare with.
                        "caption_similarity": {
                            "type": ["number", "null"],
                            "minimum": -1,
                            "maximum": 1,
                        },
                    },
                },
            },
        },
    },
)


def clip_identity(model_name: str, pretrained: str | None) -> str:
    """The name of a model with its weights, as payloads, results and figure collections
    carry it: "<architecture>/<pretrained tag>", or for a weights file on disk the first 12
    hex digits of its SHA-256 (two copies of one checkpoint give the same name), or
    "<architecture>/untrained" for random weights (which no two processes share)."""
    if not pretrained:
        return f"{model_name}/{UNTRAINED}"
    path = Path(pretrained)
    if path.is_file():
        stat = path.stat()
        return f"{model_name}/{_file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}"
    return f"{model_name}/{pretrained}"


def architecture_of(identity: str) -> str:
    """The open_clip model name of an identity ("ViT-B-32/laion2b_s34b_b79k" → "ViT-B-32")."""
    return identity.split("/", 1)[0]


@lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 (12 hex digits) of a weights file, once per version of the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]
