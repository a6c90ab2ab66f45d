"""The job contracts: every kind of job the server hands out and volunteer nodes run, with its
versioned input/output schemas, prompt and decoding schema. The server (which validates with it)
and ``worker`` both import this package; it imports neither, nor Django.

Adding a kind: write a module in this package that defines a ``JobKind`` and register it
at the bottom of this file, and give each of its output fields a row in docs/job-kinds.md
(replicas must agree on it, or the server checks it: nodes are untrusted).
"""

from jobkinds import (
    abstract,
    clip_embed,
    clip_score,
    derive,
    describe,
    extract_graph,
    judge_stance,
    judge_usefulness,
    rate_age,
    reconstruct,
    resolve_entities,
    verify_merge,
    verify_support,
)
from jobkinds.base import CAPABLE, CONTRACTS, TINY, JobKind

__all__ = [
    "CAPABLE",
    "CONTRACTS",
    "TINY",
    "JobKind",
    "UnknownKindError",
    "all_kinds",
    "get_kind",
    "register",
]

_KINDS: dict[str, JobKind] = {}


class UnknownKindError(KeyError):
    """No kind of that name is registered (the node or backend is older than the job)."""


def register(kind: JobKind) -> JobKind:
    """Add ``kind`` to the registry; a second, different kind under the same name is a bug."""
    existing = _KINDS.get(kind.name)
    if existing is not None and existing is not kind:
        raise ValueError(f"job kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    """The registered kind called ``name``."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownKindError(name) from None


def all_kinds() -> list[JobKind]:
    """Every registered kind, sorted by name."""
    return [_KINDS[name] for name in sorted(_KINDS)]


register(clip_embed.KIND)
register(clip_score.KIND)
register(extract_graph.KIND)
register(resolve_entities.KIND)
register(derive.KIND)
register(reconstruct.KIND)
register(describe.KIND)
register(rate_age.KIND)
register(verify_merge.KIND)
register(abstract.KIND)
register(judge_stance.KIND)
register(judge_usefulness.KIND)
register(verify_support.KIND)
