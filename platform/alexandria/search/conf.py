"""Settings of the search app, each overridable in Django settings or the environment.

Read at call time (not import time) so tests and operators can change them without a restart
of the settings module.
"""

import os

from django.conf import settings

DEFAULTS: dict[str, tuple[type, str]] = {
    # "minilm" (sentence-transformers all-MiniLM-L6-v2, shipped offline) or "clip" (open_clip).
    "SEARCH_EMBEDDER": (str, "minilm"),
    # open_clip text tower for the "clip" embedder: model name and pretrained tag or local
    # weights file (empty: untrained weights, only useful to test the plumbing).
    "SEARCH_CLIP_MODEL": (str, "ViT-B-32"),
    "SEARCH_CLIP_PRETRAINED": (str, ""),
    "SEARCH_COLLECTION_PREFIX": (str, "alexandria"),
    # Index items as they are created or change (on commit, through Celery).
    "SEARCH_INDEX_ON_COMMIT": (bool, "true"),
    # Merge: pairs at or above RECALL are candidates; at or above DIRECT (and passing the
    # guards) they merge without an LLM; in between a verify_merge job decides.
    "MERGE_RECALL_THRESHOLD": (float, "0.8"),
    "MERGE_DIRECT_THRESHOLD": (float, "0.93"),
    "MERGE_NEIGHBOURS": (int, "8"),
    "MERGE_BATCH_SIZE": (int, "5000"),
    # Abstraction layers: layers 1..ABSTRACTION_MAX_LAYERS; a new item closer than NOVELTY to
    # an item it combines is dropped as a restatement.
    "ABSTRACTION_MAX_LAYERS": (int, "3"),
    "ABSTRACTION_NOVELTY_THRESHOLD": (float, "0.9"),
    "ABSTRACTION_NEIGHBOURS_PER_PROBE": (int, "4"),
    "ABSTRACTION_NODES_PER_RUN": (int, "200"),
    # Queries: candidate pro/contra neighbours must be at least this similar to the claim.
    "ASK_NEIGHBOUR_THRESHOLD": (float, "0.55"),
    # Instructions are phrased differently from claims: a lower bar for "related".
    "ASK_INSTRUCTION_THRESHOLD": (float, "0.45"),
    "ASK_SUMMARY_TIMEOUT_SECONDS": (float, "20"),
}


def _parse(kind: type, raw: str):
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def get(name: str):
    """The setting's value: Django settings first, then the environment, then the default."""
    kind, default = DEFAULTS[name]
    if hasattr(settings, name):
        return getattr(settings, name)
    return _parse(kind, os.environ.get(name) or default)
