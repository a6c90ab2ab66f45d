"""Server-side handlers for job results: what a result of each kind means to the backend.

The JSON Schema of a kind (``jobkinds``) only says a result has the right shape; a
``ResultHandler`` checks what it says (e.g. that anchors are found in the source), decides
whether two results of replicated jobs agree, stores the canonical result downstream, prices
it in credit and says what of an output may stay stored once its job is decided. Apps register
their handlers from ``AppConfig.ready()``.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from alexandria.jobs.models import Job, JobResult


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of semantic validation. Any ``reasons`` make the whole result invalid;
    ``rejected_items`` are parts dropped from an otherwise valid result (counted on the node)."""

    reasons: list[str] = field(default_factory=list)
    rejected_items: int = 0
    kept_items: int = 0

    @property
    def is_valid(self) -> bool:
        return not self.reasons


@runtime_checkable
class ResultHandler(Protocol):
    kind: str

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        """Semantic checks beyond the JSON Schema (which the submit API already enforced)."""
        ...

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        """Whether two results of the same job say the same thing (replication quorum)."""
        ...

    def apply(self, job: Job, result: JobResult) -> None:
        """Store what the canonical result produces; called once per job, inside a transaction."""
        ...

    def credit(self, job: Job, result: JobResult) -> Decimal:
        """Credit a validated result earns its node's owner (> 0)."""
        ...

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """What of an output stays stored once its job is decided (or the output rejected):
        nothing that quotes the job's source (copyright retention); the output itself where
        the kind quotes none."""
        ...


class UnknownHandlerError(LookupError):
    """No handler is registered for a job kind (its app is not installed or not ready)."""


_HANDLERS: dict[str, ResultHandler] = {}


def register_handler(handler: ResultHandler) -> ResultHandler:
    """Register ``handler`` for its kind; registering another handler for a taken kind is a bug."""
    if not isinstance(handler, ResultHandler):
        raise TypeError(f"{handler!r} does not implement ResultHandler")
    existing = _HANDLERS.get(handler.kind)
    if existing is not None and existing is not handler:
        raise ValueError(f"a result handler for {handler.kind!r} is already registered")
    _HANDLERS[handler.kind] = handler
    return handler


def get_handler(kind: str) -> ResultHandler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise UnknownHandlerError(f"no result handler is registered for {kind!r} jobs") from None
