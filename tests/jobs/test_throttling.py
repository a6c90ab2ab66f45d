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
    import redis
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "throttle-test",
        }
    }
    redis.Redis.from_url(redis_url).flushdb()
    assert type(caches["default"]).__name__ == "RedisCache"
    node_rates({"node": "2/min", "node_owner": "100/h"})
    node = register_node()
    assert [node.lease().status_code for _ in range(3)] == [200, 200, 429]
    client = redis.Redis.from_url(redis_url)
    (node_key,) = client.keys("throttle-test:*throttle:node:*")
    (owner_key,) = client.keys("throttle-test:*throttle:node_owner:*")
    assert int(client.get(node_key)) == 3 and int(client.get(owner_key)) == 3
    assert 0 < client.ttl(node_key) <= 61 and 0 < client.ttl(owner_key) <= 3601
