"""The rate limit of every member-facing view (``DEFAULT_THROTTLE_CLASSES``).

A view that names no ``throttle_scope`` is held to the ``contributor`` rate, so no endpoint a
member reaches is unthrottled by omission; a view with a costlier answer names its own, lower
scope (``ask``: an embedding and maybe a server-side LLM call per request). Members are told
apart by their user (the bot acts as a member's own user); anonymous callers by address.
Volunteer nodes' protocol views name their own throttle (``jobs.throttles.NodeThrottle``).
"""

from rest_framework.throttling import ScopedRateThrottle

DEFAULT_SCOPE = "contributor"


class MemberRateThrottle(ScopedRateThrottle):
    def allow_request(self, request, view):
        if not getattr(view, "throttle_scope", None):
            view.throttle_scope = DEFAULT_SCOPE
        return super().allow_request(request, view)
