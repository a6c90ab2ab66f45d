"""Shared fixtures: API clients for each kind of caller, and service availability.

Tests that need PostgreSQL, Redis or Chroma talk to the real service. Locally a missing
service skips those tests with the reason; under ``CI=true`` a missing service is a failure.
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

BOT_TOKEN = "test-bot-service-token"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def postgres(settings):
    """Skip (or fail under CI) unless the test database is PostgreSQL."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true requires DATABASE_URL to point at PostgreSQL")
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")


@pytest.fixture(autouse=True)
def _bot_token(settings):
    settings.BOT_SERVICE_TOKEN = BOT_TOKEN


@pytest.fixture(autouse=True)
def _isolated_vector_index(settings, tmp_path_factory):
    """Tests index explicitly, into a throwaway Chroma directory, never into var/chroma."""
    settings.SEARCH_INDEX_ON_COMMIT = False
    settings.CHROMA_URL = ""
    settings.CHROMA_PATH = tmp_path_factory.getbasetemp() / "chroma"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Throttle counters live in the cache; each test starts with none used."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def bot_client_for():
    """An API client acting as the Discord bot on behalf of the given member id."""

    def make(discord_id: str = "100000000000000001", name: str = "member") -> APIClient:
        client = APIClient()
        client.credentials(
            HTTP_AUTHORIZATION=f"Bot {BOT_TOKEN}",
            HTTP_X_DISCORD_USER=discord_id,
            HTTP_X_DISCORD_NAME=name,
        )
        return client

    return make


@pytest.fixture
def bot_client(bot_client_for, db) -> APIClient:
    return bot_client_for()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="moderator",
        password="correct horse battery staple",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_login(staff_user)
    return client
