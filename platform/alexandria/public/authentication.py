"""API keys on the public read API: ``Authorization: ApiKey <key>`` (or ``X-Api-Key: <key>``).

A key raises the rate limit and nothing else: the public API shows the same to everyone."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from alexandria.core.authentication import credentials
from alexandria.public.models import ApiKey
from alexandria.public.services import active_key


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """``request.auth`` for a call with a valid key; ``request.user`` stays anonymous."""

    key: ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "ApiKey"

    def authenticate(self, request):
        key = credentials(request, self.keyword) or request.headers.get("X-Api-Key", "").strip()
        if not key:
            return None
        api_key = active_key(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "Unknown or revoked API key; leave it out to read anonymously (lower rate limit)."
            )
        return AnonymousUser(), ApiKeyPrincipal(api_key)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="public"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ApiKey <key>` (or the `X-Api-Key` header): optional, raises the "
            "rate limit. Members get one with `/apikey` in Discord; staff in the admin.",
        }
