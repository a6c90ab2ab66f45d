"""Every route states who may call it: a walk over the OpenAPI schema proves anonymous callers
are refused everywhere but the public health and schema routes and the public read API."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

PUBLIC_PATHS = {"/api/v1/health", "/api/v1/schema", "/api/v1/docs"}
# The public read API is open to anyone (tests/public prove it shows only what may be shown).
PUBLIC_PREFIX = "/api/v1/public/"


def _schema_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method in operations:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method


def _concrete(path: str) -> str:
    path = re.sub(r"\{[^}]*(uuid|lease)[^}]*\}", "00000000-0000-4000-8000-000000000000", path)
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.django_db
def test_anonymous_requests_are_refused_on_every_non_public_route(anonymous_client):
    operations = list(_schema_operations())
    assert len(operations) >= 4
    for path, method in operations:
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX):
            continue
        response = getattr(anonymous_client, method)(_concrete(path), {}, format="json")
        assert response.status_code in {401, 403}, (path, method, response.status_code)
        assert "detail" in response.json()


@pytest.mark.django_db
def test_public_routes_answer_anonymously(anonymous_client):
    assert anonymous_client.get("/api/v1/health").status_code == 200
    schema = anonymous_client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "paths:" in target.read_text()


@pytest.mark.django_db
def test_wrong_bot_token_is_refused(anonymous_client):
    anonymous_client.credentials(
        HTTP_AUTHORIZATION="Bot not-the-token", HTTP_X_DISCORD_USER="100000000000000001"
    )
    response = anonymous_client.get("/api/v1/me")
    assert response.status_code == 401
    assert "Invalid bot service token" in response.json()["detail"]


@pytest.mark.django_db
def test_bot_must_name_the_acting_member(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Bot test-bot-service-token")
    response = anonymous_client.get("/api/v1/me")
    assert response.status_code == 401
    assert "X-Discord-User" in response.json()["detail"]


@pytest.mark.django_db
def test_bot_acts_for_a_member_created_on_first_sight(bot_client_for):
    response = bot_client_for("200000000000000002", "Ada").get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["discord_id"] == "200000000000000002"
    assert response.json()["display_name"] == "Ada"


@pytest.mark.django_db
def test_banned_member_gets_403(bot_client_for):
    from alexandria.contributors.models import Contributor
    from alexandria.contributors.services import ban_contributor

    client = bot_client_for("300000000000000003")
    assert client.get("/api/v1/me").status_code == 200
    ban_contributor(Contributor.objects.get(discord_id="300000000000000003"), reason="spam")
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert "banned" in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_node_token_is_refused(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Node anode_not-a-real-token")
    assert anonymous_client.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_staff_session_is_accepted(staff_client):
    assert staff_client.get("/api/v1/me").status_code == 200
