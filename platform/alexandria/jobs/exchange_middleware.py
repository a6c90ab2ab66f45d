"""POST /api/v1/jobs/exchange, answered right after the security and static-file middleware.

A busy volunteer node makes this call once per batch, so it is the hottest request there is.
Django's remaining middleware, URL routing and DRF's request cycle serve nothing here
(sessions, CSRF, messages, content negotiation: nodes carry a token and speak JSON) and cost
about a millisecond of CPU per call: measured in-process, a one-job exchange took 4.2 ms of
Python CPU through DRF and 3.2 ms through this middleware. It runs the steps of
``JobsExchangeApi`` itself: the same authentication, throttle, size limit, JSON parser,
envelope checks and service, with errors rendered by the API's exception handler. A request
it does not recognise as a node's JSON call (another method, no ``Node`` token, another
content type, no body) goes on down the ordinary path, where DRF answers it;
``JobsExchangeApi`` also stays the documented schema.
"""

import json

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from rest_framework.exceptions import APIException, Throttled

from alexandria.core.error_handler import exception_handler
from alexandria.core.errors import AlexandriaError
from alexandria.jobs import apis
from alexandria.jobs.authentication import NodeTokenAuthentication
from alexandria.jobs.throttles import NodeThrottle

# What APIView adds to a response of JobsExchangeApi (it has one renderer, so no Vary).
_RESPONSE_HEADERS = {"Allow": "POST, OPTIONS"}


class NodeExchangeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.path = reverse("api:jobs-exchange")
        self.authentication = NodeTokenAuthentication()
        self.parser = apis.NodeOutputsJSONParser()

    def __call__(self, request):
        if not (
            request.path_info == self.path
            and request.method == "POST"
            and request.content_type == "application/json"
            and request.META.get("HTTP_AUTHORIZATION", "")[:5].lower() == "node "
            and request.META.get("CONTENT_LENGTH", "").isdigit()  # DRF reads no body otherwise
        ):
            return self.get_response(request)
        try:
            node = self._node(request)
            apis.check_declared_size(request, settings.EXCHANGE_MAX_BYTES)
            body = apis.exchange_body(node, self.parser.parse(request))
        except (APIException, AlexandriaError) as exc:
            return self._error(exc)
        return _json_response(body, 200)

    def _node(self, request):
        node = self.authentication.authenticate(request)[1]
        throttle = NodeThrottle()
        if not throttle.allows(node):
            raise Throttled(throttle.wait())
        return node

    def _error(self, exc: APIException | AlexandriaError) -> HttpResponse:
        if exc.status_code == 401:
            exc.auth_header = self.authentication.authenticate_header(None)
        answer = exception_handler(exc, {})
        response = _json_response(answer.data, answer.status_code)
        for name in ("WWW-Authenticate", "Retry-After"):  # what DRF's handler may set
            if name in answer:
                response[name] = answer[name]
        return response


def _json_response(body, status: int) -> HttpResponse:
    """As DRF's JSONRenderer writes it (compact, UTF-8, no NaN), with the Content-Length that
    CommonMiddleware would have added."""
    content = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    response = HttpResponse(content, status=status, content_type="application/json")
    for name, value in _RESPONSE_HEADERS.items():
        response[name] = value
    response["Content-Length"] = str(len(content))
    return response
