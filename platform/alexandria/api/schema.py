"""OpenAPI generation: every operation also documents the errors the framework itself answers.

Views declare their success bodies and domain errors with ``extend_schema``; authentication
(401), permissions (403), validation and parsing (400), unknown ids (404) and throttling (429)
come from DRF for every view alike, always as ``{"detail": ..., "errors"?: ...}``, so they are
added here rather than repeated on each view.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    errors = serializers.JSONField(
        required=False, help_text="Field by field, when the input did not validate."
    )


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for code, description in self._framework_errors().items():
            bodies.setdefault(str(code), {"description": description})
        for code, body in bodies.items():
            if code.startswith("4") and "content" not in body:
                error = OpenApiResponse(ErrorSerializer, body["description"])
                bodies[code] = self._get_response_for_code(error, code, direction=direction)
        return dict(sorted(bodies.items()))

    def _framework_errors(self) -> dict[int, str]:
        view = self.view
        errors = {}
        has_body = self.method in {"POST", "PUT", "PATCH"} and self.get_request_serializer()
        if has_body or self.get_override_parameters():
            errors[400] = "Invalid input."
        if view.authentication_classes:
            errors[401] = "Missing or invalid credentials."
        if not all(issubclass(p, AllowAny) for p in view.permission_classes):
            errors[403] = "This caller may not do this."
        if "{" in self.path:
            errors[404] = "Not found."
        if view.throttle_classes:
            errors[429] = "Rate limit reached; see Retry-After."
        return errors
