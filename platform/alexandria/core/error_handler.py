"""The one place that turns errors into HTTP answers: always JSON with a human-readable
``detail`` (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``, the exchange middleware, ``handler404``)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler as drf_exception_handler

from alexandria.core.errors import AlexandriaError, TooLargeError


class _Refused(APIException):
    """An ``AlexandriaError`` as DRF's handler takes it (headers, status, rendering)."""

    def __init__(self, error: AlexandriaError):
        super().__init__(detail=str(error), code=error.code)
        self.status_code = error.status_code
        self.body = error.body()
        # DRF's handler turns ``wait`` into Retry-After (TooManyRequestsError has one).
        self.wait = getattr(error, "wait", None)


def exception_handler(exc, context):
    if isinstance(exc, AlexandriaError):
        exc = _Refused(exc)
    elif isinstance(exc, DjangoValidationError):
        exc = _Refused(AlexandriaError(" ".join(exc.messages)))
    elif isinstance(exc, RequestDataTooBig):
        # Django's own answer would be an HTML 400; a body over the limit is a JSON 413.
        exc = _Refused(
            TooLargeError(
                f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
            )
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, _Refused):
        response.data = exc.body
    elif isinstance(response.data, dict) and "detail" not in response.data:
        # Field validation errors: keep them under "errors" with a summary line in "detail".
        response.data = {"detail": "Invalid input.", "errors": response.data}
    elif isinstance(response.data, list):
        response.data = {"detail": " ".join(str(item) for item in response.data)}
    return response


def not_found(request, exception):
    """Unrouted URLs under /api/ (a malformed id, say) answer in the API's JSON error shape."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
