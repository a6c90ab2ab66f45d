"""The one error base: every refusal a service raises is an ``AlexandriaError`` (its message is
for people: the API, the bot and the CLI show it as it is; the admin catches this base too), and
``alexandria.core.error_handler``, which every API view and the exchange middleware use, answers
with its status. Django's ``ValidationError`` is left to validators (model fields, forms), and
the handler answers it as the same 400.

Plain Python on purpose (no DRF views): services and admin modules import it, and DRF's views
module imports the authentication classes, which import services.
"""

from typing import Any

from rest_framework import status


class AlexandriaError(Exception):
    """A request the platform refuses, and why: ``status_code`` is the HTTP status the API
    answers with, ``code`` a stable word for programs, ``errors`` optional details per field."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, errors: Any = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": str(self), "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class NotFoundError(AlexandriaError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class ConflictError(AlexandriaError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class TooLargeError(AlexandriaError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"


class TooManyRequestsError(AlexandriaError):
    """Refused for now: ``wait`` seconds until asking again makes sense (``Retry-After``)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "too_many_requests"

    def __init__(self, message: str, *, wait: float, code: str | None = None):
        super().__init__(message, code=code)
        self.wait = wait
