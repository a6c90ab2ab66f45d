"""Rate limits for volunteer nodes: per node, and per contributor across all their nodes.

Fixed one-period windows counted with ``cache.incr`` (two cache operations per check) instead
of DRF's per-request timestamp lists, which grow with the rate and are too slow for the lease
path. The window's remaining seconds become ``Retry-After`` on a 429.
"""

import time

from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from alexandria.jobs.models import WorkerNode


class FixedWindowThrottle(SimpleRateThrottle):
    cache_format = "throttle:%(scope)s:%(ident)s"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        key = f"{self.key}:{window}"
        cache.add(key, 0, timeout=self.duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self):
        return max(1.0, self.window_ends_at - time.time())


class NodeRateThrottle(FixedWindowThrottle):
    scope = "node"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, WorkerNode):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class NodeOwnerRateThrottle(FixedWindowThrottle):
    scope = "node_owner"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, WorkerNode):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.owner_id}
