"""Rate limits for volunteer nodes: per node, and per contributor across all their nodes.

Fixed one-period windows counted with one increment per limit instead of DRF's per-request
timestamp lists, which grow with the rate and are too slow for the lease path. The remaining
seconds of the window that refused become ``Retry-After`` on a 429.

On Redis, each web process adds its calls up and sends them together, at most every
``SYNC_SECONDS`` (a Redis round trip cost more CPU than a tenth of an exchange): below half of
a limit, a call is judged by the count Redis gave at the last sync plus the process's own calls
since. From half of a limit on, every call is counted in Redis at once, so the limit holds
exactly where it matters; below it, a process's view of the others' calls is at most
``SYNC_SECONDS`` old.
"""

import functools
import os
import threading
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
        counts = _count_hits([(key, seconds + 1, allowed) for key, allowed, _, seconds in limits])
        refused = [
            ends
            for (_, allowed, ends, _), count in zip(limits, counts, strict=True)
            if count > allowed
        ]
        self.retry_at = max(refused, default=now)
        return not refused

    def wait(self):
        return max(1.0, self.retry_at - time.time())


SYNC_SECONDS = 0.05
EXACT_FROM_SHARE = 0.5


class RedisHitCounter:
    """One process's counters on one Redis server (see the module docstring)."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)
        self._lock = threading.Lock()  # guards the counts
        self._sync_lock = threading.Lock()  # one sync at a time, so counts are never stale
        # Redis key -> [count at the last sync, this process's calls since, seconds to live,
        # when to forget it (monotonic)]
        self._counts: dict[str, list] = {}
        self._synced_at = float("-inf")

    def hit(self, keys: list[tuple[str, int, int]]) -> list[int]:
        """Count one call on each (Redis key, seconds to live, allowed calls); the counts."""
        now = time.monotonic()
        with self._lock:
            entries = [self._counts.setdefault(key, [0, 0, ttl, now + ttl]) for key, ttl, _ in keys]
            for entry in entries:
                entry[1] += 1
            counts = [entry[0] + entry[1] for entry in entries]
            if now - self._synced_at < SYNC_SECONDS and all(
                count < EXACT_FROM_SHARE * allowed
                for count, (_, _, allowed) in zip(counts, keys, strict=True)
            ):
                return counts
        self.sync()
        with self._lock:
            return [entry[0] + entry[1] for entry in entries]

    def sync(self) -> None:
        """Send the calls counted since the last sync and take Redis's totals."""
        with self._sync_lock:
            with self._lock:
                self._synced_at = time.monotonic()
                sending = [
                    (key, entry[1], entry[2]) for key, entry in self._counts.items() if entry[1]
                ]
                for key, _, _ in sending:
                    self._counts[key][1] = 0
            if not sending:
                return
            pipe = self.client.pipeline(transaction=False)
            for key, added, _ in sending:
                pipe.incrby(key, added)
            try:
                totals = pipe.execute()
            except redis.RedisError:  # Redis counted none of them: they go with the next sync
                with self._lock:
                    for key, added, _ in sending:
                        self._counts[key][1] += added
                raise
            opened = [
                (key, ttl)
                for (key, added, ttl), total in zip(sending, totals, strict=True)
                if total == added
            ]
            if opened:  # keys are per window, so one left without expiry is never counted again
                pipe = self.client.pipeline(transaction=False)
                for key, ttl in opened:
                    pipe.expire(key, ttl)
                pipe.execute()
            now = time.monotonic()
            with self._lock:
                for (key, _, _), total in zip(sending, totals, strict=True):
                    self._counts[key][0] = total
                # Keys are per window, and no call counts on a past window again.
                self._counts = {
                    key: entry for key, entry in self._counts.items() if entry[1] or entry[3] > now
                }


@functools.cache
def _redis_counter(url: str) -> RedisHitCounter:
    """One per process: Django's cache makes a new client object per call, which costs more
    than the round trip, and the counts are the process's own."""
    return RedisHitCounter(url)


# A forked process starts with no counts (gunicorn forks its workers from a loaded master).
os.register_at_fork(after_in_child=_redis_counter.cache_clear)


def _count_hits(keys: list[tuple[str, int, int]]) -> list[int]:
    """Count one call on each (key, seconds to live, allowed calls); the counts so far."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        counter = _redis_counter(backend._servers[0])
        return counter.hit([(backend.make_key(key), ttl, allowed) for key, ttl, allowed in keys])
    return [_count_hit_in_cache(backend, key, ttl) for key, ttl, _ in keys]


def _count_hit_in_cache(backend, key: str, ttl: int) -> int:
    backend.add(key, 0, timeout=ttl)
    try:
        return backend.incr(key)
    except ValueError:  # evicted between add and incr
        backend.set(key, 1, timeout=ttl)
        return 1
