"""Response headers Django 5.2 does not set itself: a Content-Security-Policy.

The API answers JSON; the only pages are the admin and the Swagger UI at ``/api/v1/docs``,
which loads its script and styles from a CDN (``CONTENT_SECURITY_POLICY`` names it). A policy
a view already set is left alone.
"""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
