import os
from types import SimpleNamespace

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from alexandria.jobs import throttles
from alexandria.jobs.throttles import SYNC_SECONDS, RedisHitCounter


def test_node_rate_limit_answers_429_with_retry_after(register_node, node_rates):
    node_rates({"node": "3/min"})
    node = register_node()
    statuses = [node.lease().status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = node.lease()
    assert 1 <= int(response["Retry-After"]) <= 60


def test_contributor_rate_limit_spans_all_their_nodes(register_node, node_rates):
    node_rates({"node": "100/min", "node_owner": "4/min"})
    first = register_node(name="a")
    second = register_node(name="b")
    other_member = register_node("100000000000000002", name="c")
    assert [first.lease().status_code for _ in range(2)] == [200, 200]
    assert [second.lease().status_code for _ in range(3)] == [200, 200, 429]
    assert other_member.lease().status_code == 200


def test_the_limit_is_counted_in_redis_when_the_cache_is_redis(
    register_node, node_rates, settings, redis_url
):
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "throttle-test",
        }
    }
    redis.Redis.from_url(redis_url).flushdb()
    throttles._redis_counter.cache_clear()  # no counts kept from an earlier test
    assert type(caches["default"]).__name__ == "RedisCache"
    node_rates({"node": "2/min", "node_owner": "100/h"})
    node = register_node()
    assert [node.lease().status_code for _ in range(3)] == [200, 200, 429]
    client = redis.Redis.from_url(redis_url)
    (node_key,) = client.keys("throttle-test:*throttle:node:*")
    (owner_key,) = client.keys("throttle-test:*throttle:node_owner:*")
    assert int(client.get(node_key)) == 3 and int(client.get(owner_key)) == 3
    assert 0 < client.ttl(node_key) <= 61 and 0 < client.ttl(owner_key) <= 3601


@pytest.fixture
def clock(monkeypatch):
    """The throttle's monotonic clock, moved by hand."""
    now = SimpleNamespace(value=0.0)
    monkeypatch.setattr(
        throttles, "time", SimpleNamespace(time=lambda: now.value, monotonic=lambda: now.value)
    )
    return now


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


def test_far_below_the_limit_a_process_sends_its_calls_together(redis_url, redis_client, clock):
    counter = RedisHitCounter(redis_url)
    key = [("calls", 61, 1000)]
    assert counter.hit(key) == [1]  # the first call syncs
    assert int(redis_client.get("calls")) == 1 and 0 < redis_client.ttl("calls") <= 61
    assert [counter.hit(key) for _ in range(4)] == [[2], [3], [4], [5]]
    assert int(redis_client.get("calls")) == 1
    clock.value += SYNC_SECONDS
    assert counter.hit(key) == [6]
    assert int(redis_client.get("calls")) == 6


def test_processes_see_each_others_calls_and_count_exactly_from_half_the_limit(
    redis_url, redis_client, clock
):
    first, second = RedisHitCounter(redis_url), RedisHitCounter(redis_url)
    key = [("calls", 61, 10)]
    assert [first.hit(key) for _ in range(3)] == [[1], [2], [3]]
    assert second.hit(key) == [2]  # the first process has sent one call so far
    clock.value += SYNC_SECONDS
    assert first.hit(key) == [5]  # its own four, the other's one
    # From half the limit (5 of 10) on, every call is counted in Redis at once.
    assert [second.hit(key), second.hit(key), first.hit(key)] == [[6], [7], [8]]
    assert int(redis_client.get("calls")) == 8


def test_calls_counted_while_redis_was_unreachable_are_sent_later(redis_url, redis_client, clock):
    counter = RedisHitCounter(redis_url)
    reachable, counter.client = (
        counter.client,
        redis.Redis(port=1, retry=Retry(NoBackoff(), 0)),
    )  # nothing there
    with pytest.raises(redis.ConnectionError):
        counter.hit([("calls", 61, 1000)])
    counter.client = reachable
    clock.value += SYNC_SECONDS
    assert counter.hit([("calls", 61, 1000)]) == [2]
    assert int(redis_client.get("calls")) == 2


def test_a_forked_process_starts_with_counts_of_its_own(redis_url):
    parent = throttles._redis_counter(redis_url)
    pid = os.fork()
    if pid == 0:  # the child: report by exit status, without pytest's clean-up
        os._exit(0 if throttles._redis_counter(redis_url) is not parent else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
