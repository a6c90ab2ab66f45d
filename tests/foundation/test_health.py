"""The health endpoint reports each dependency truthfully."""

import pytest


@pytest.mark.django_db
def test_embedded_defaults_are_healthy(anonymous_client, settings, tmp_path):
    settings.CELERY_BROKER_URL = ""
    settings.CHROMA_URL = ""
    settings.CHROMA_PATH = tmp_path / "chroma"
    body = anonymous_client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"] and body["chroma"]["ok"]
    assert "eagerly" in body["broker"]["detail"]


@pytest.mark.django_db
def test_real_redis_broker_is_reachable(anonymous_client, settings, redis_url, tmp_path):
    settings.CELERY_BROKER_URL = redis_url
    settings.CHROMA_PATH = tmp_path / "chroma"
    body = anonymous_client.get("/api/v1/health").json()
    assert body["broker"]["ok"], body


@pytest.mark.django_db
def test_unreachable_services_make_it_degraded(anonymous_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CHROMA_URL = "http://127.0.0.1:1"
    response = anonymous_client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"]
    assert not body["broker"]["ok"] and not body["chroma"]["ok"]
