"""What the job system refuses, each with the HTTP status the API answers it with (the one
exception handler in ``alexandria.core.errors`` renders them). The exchange reports the same
errors per lease, with the same statuses, inside its 200 answer."""

from typing import Any

from alexandria.core.errors import (
    AlexandriaError,
    ConflictError,
    NotFoundError,
    TooLargeError,
    TooManyRequestsError,
)


class JobsError(AlexandriaError):
    """A request the job system refuses; the message says why, for the caller."""


class InvalidInput(JobsError):
    """Input that breaks a rule (unknown kind, payload off its schema, a name in use);
    ``errors`` says where, per field, when that is known."""

    def __init__(self, message: str, errors: Any = None):
        super().__init__(message, errors=errors)


class OutputRejected(JobsError):
    """The output breaks the kind's output schema; counted against the node."""

    code = "output_rejected"

    def __init__(
        self,
        errors: list[str],
        message: str = "The output does not match the job kind's output schema.",
    ):
        super().__init__(message, errors=errors)


class LeaseNotFound(JobsError, NotFoundError):
    """No lease with that id belongs to the calling node (other nodes' leases look the same)."""


class LeaseConflict(JobsError, ConflictError):
    """The lease can no longer do what was asked (expired and re-leased, submitted, …)."""


class ResultTooLarge(JobsError, TooLargeError):
    """An output over RESULT_MAX_BYTES."""


class NodePaused(JobsError, TooManyRequestsError):
    """The backend paused the node (it gave back too many leases unfinished): it leases
    nothing for ``wait`` seconds; it may still hand results in and give leases back."""

    code = "node_paused"
