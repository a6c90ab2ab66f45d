"""The public side's rate limit: per client address for anonymous readers, per key with a key.

The address is DRF's ``get_ident``: ``REMOTE_ADDR`` when ``NUM_PROXIES`` is 0 (development:
an ``X-Forwarded-For`` header is never read, so it can't be spoofed), else the address the
last of ``NUM_PROXIES`` trusted proxies saw (production's default: 1, the deployment's
reverse proxy). Web pages and the API count against the same budget.
"""

from rest_framework.throttling import SimpleRateThrottle

from alexandria.public.authentication import ApiKeyPrincipal

ANONYMOUS_SCOPE = "public"
KEY_SCOPE = "public_key"


class PublicRateThrottle(SimpleRateThrottle):
    scope = ANONYMOUS_SCOPE

    def allow_request(self, request, view):
        principal = getattr(request, "auth", None)
        self.scope = KEY_SCOPE if isinstance(principal, ApiKeyPrincipal) else ANONYMOUS_SCOPE
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        principal = getattr(request, "auth", None)
        if isinstance(principal, ApiKeyPrincipal):
            ident = f"key-{principal.key.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
