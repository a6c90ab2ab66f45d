"""Rate limits for volunteer nodes: per node, and per contributor across all their nodes.

Fixed one-period windows counted with one increment per check instead of DRF's per-request
timestamp lists, which grow with the rate and are too slow for the lease path. On Redis the
increment is one command; the request that opens a window sets its expiry. The window's
remaining seconds become ``Retry-After`` on a 429.
"""

import functools
import time

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
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
        count = _count_hit(f"{self.key}:{window}", ttl=int(self.duration) + 1)
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


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    """One client (and connection pool) per process: Django's cache makes a new client object
    per call, which costs more than the round trip."""
    return redis.Redis.from_url(url)


def _count_hit(key: str, *, ttl: int) -> int:
    """Add one to the counter ``key`` (created with ``ttl`` seconds to live); the new count."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        redis_key = backend.make_and_validate_key(key)
        client = _redis_client(backend._servers[0])
        count = client.incr(redis_key)
        if count == 1:  # keys are per window, so one left without expiry is never counted again
            client.expire(redis_key, ttl)
        return count
    backend.add(key, 0, timeout=ttl)
    try:
        return backend.incr(key)
    except ValueError:  # evicted between add and incr
        backend.set(key, 1, timeout=ttl)
        return 1
