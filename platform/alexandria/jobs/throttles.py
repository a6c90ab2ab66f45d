"""Rate limits for volunteer nodes: per node, and per contributor across all their nodes.

Fixed one-period windows counted with one increment per limit instead of DRF's per-request
timestamp lists, which grow with the rate and are too slow for the lease path. Both limits
are counted together: on Redis that is one pipelined round trip (a second one only when a
request opens a window and sets its expiry). The remaining seconds of the window that refused
become ``Retry-After`` on a 429.
"""

import functools
import time

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from alexandria.jobs.models import WorkerNode


class NodeThrottle(BaseThrottle):
    """The ``node`` and ``node_owner`` rates of DEFAULT_THROTTLE_RATES ("6000/min")."""

    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    key_format = "throttle:%(scope)s:%(ident)s:%(window)d"

    def allow_request(self, request, view):
        node = request.auth
        return self.allows(node) if isinstance(node, WorkerNode) else True

    def allows(self, node: WorkerNode) -> bool:
        """Count this call of ``node``; False when a limit is spent (``wait`` says for how
        long)."""
        now = time.time()
        limits = []  # (cache key, allowed hits, window end, window seconds)
        for scope, ident in (("node", node.pk), ("node_owner", node.owner_id)):
            rate = self.THROTTLE_RATES.get(scope)
            if rate is None:
                continue
            # DRF's own reader of "6000/min" (it uses nothing of the instance).
            allowed, seconds = SimpleRateThrottle.parse_rate(self, rate)
            window = int(now // seconds)
            key = self.key_format % {"scope": scope, "ident": ident, "window": window}
            limits.append((key, allowed, (window + 1) * seconds, seconds))
        if not limits:
            return True
        counts = _count_hits([(key, seconds + 1) for key, _, _, seconds in limits])
        refused = [
            ends
            for (_, allowed, ends, _), count in zip(limits, counts, strict=True)
            if count > allowed
        ]
        self.retry_at = max(refused, default=now)
        return not refused

    def wait(self):
        return max(1.0, self.retry_at - time.time())


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    """One client (and connection pool) per process: Django's cache makes a new client object
    per call, which costs more than the round trip."""
    return redis.Redis.from_url(url)


def _count_hits(keys: list[tuple[str, int]]) -> list[int]:
    """Add one to each counter (created with its seconds to live); the new counts."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = _redis_client(backend._servers[0])
        redis_keys = [(backend.make_and_validate_key(key), ttl) for key, ttl in keys]
        pipe = client.pipeline(transaction=False)
        for redis_key, _ in redis_keys:
            pipe.incr(redis_key)
        counts = pipe.execute()
        opened = [
            (key, ttl) for (key, ttl), count in zip(redis_keys, counts, strict=True) if count == 1
        ]
        if opened:  # keys are per window, so one left without expiry is never counted again
            pipe = client.pipeline(transaction=False)
            for redis_key, ttl in opened:
                pipe.expire(redis_key, ttl)
            pipe.execute()
        return counts
    return [_count_hit_in_cache(backend, key, ttl) for key, ttl in keys]


def _count_hit_in_cache(backend, key: str, ttl: int) -> int:
    backend.add(key, 0, timeout=ttl)
    try:
        return backend.incr(key)
    except ValueError:  # evicted between add and incr
        backend.set(key, 1, timeout=ttl)
        return 1
