"""Issue 21, findings 4-9: hostile input over HTTP gets a clear 4xx, never a 500, a leak or a
phantom. Each test states the attack it replays."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.throttling import SimpleRateThrottle

from alexandria.contributors.models import Contributor, discord_snowflake
from alexandria.contributors.permissions import IsBotService, IsMember, IsStaff
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.core.parsers import MAX_JSON_DEPTH
from alexandria.jobs.models import JobResult
from alexandria.jobs.services.leasing import lease_jobs
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.nodes import register_node
from alexandria.jobs.throttles import NodeThrottle
from alexandria.sources.models import Source

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
MEMBER = "100000000000000001"
OTHER = "100000000000000002"
DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000


def _post(client, path, body: str):
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def node_client(db):
    owner = contributor_for_discord_user(OTHER, display_name="volunteer")
    registered = register_node(owner, name="gpu", capabilities={"kinds": ["clip_score"]})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Node {registered.token}")
    client.node = registered.node
    return client


# --- finding 4: deep nesting and lone surrogates ----------------------------------------------


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deep_nesting_is_a_400_on_member_endpoints(bot_client, body):
    for path in ("/api/v1/sources", "/api/v1/nodes", "/api/v1/reviews/tasks/1/answer"):
        response = _post(bot_client, path, body)
        assert response.status_code in (400, 404), (path, response.status_code)
        if response.status_code == 400:
            assert "nests" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/jobs/exchange", "/api/v1/jobs/lease"])
def test_deep_nesting_is_a_400_on_the_node_protocol(node_client, path):
    # /jobs/exchange is answered by the exchange middleware, /jobs/lease by DRF.
    response = _post(node_client, path, DEEP)
    assert response.status_code == 400
    assert "nests" in response.json()["detail"]
    response = _post(node_client, path, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert response.status_code == 400


def test_staff_endpoints_refuse_deep_nesting_too(staff_client):
    response = _post(staff_client, "/api/v1/mod/takedowns", DEEP_OBJECT)
    assert response.status_code == 400


def _clip_lease(node) -> uuid.UUID:
    pair = {"id": "p0", "text": "a cat", "image_b64": "iVBORw0KGgo="}
    create_job("clip_score", {"pairs": [pair], "threshold": 0.28})
    return lease_jobs(node, max_jobs=1)[0].lease_id


CLIP_OUTPUT = {
    "model": "ViT-B-32",
    "scores": [{"id": "p0", "similarity": 0.5, "keep": True}],
}


def test_a_lone_surrogate_refuses_its_output_only_not_the_batch(node_client):
    bad, good = _clip_lease(node_client.node), _clip_lease(node_client.node)
    broken = json.dumps({**CLIP_OUTPUT, "model": "ViT-B-32"}).replace("ViT-B-32", "ViT\\ud800")
    body = (
        '{"max_jobs":0,"results":['
        f'{{"lease_id":"{bad}","output":{broken}}},'
        f'{{"lease_id":"{good}","output":{json.dumps(CLIP_OUTPUT)}}}]}}'
    )
    response = _post(node_client, "/api/v1/jobs/exchange", body)
    assert response.status_code == 200, response.content
    outcomes = {item["lease_id"]: item for item in response.json()["results"]}
    assert outcomes[str(bad)]["status"] == 400
    assert "surrogate" in outcomes[str(bad)]["errors"][0]
    assert outcomes[str(good)]["status"] == 200
    assert JobResult.objects.count() == 1


def test_a_lone_surrogate_in_a_submitted_output_is_a_400(node_client):
    lease = _clip_lease(node_client.node)
    body = '{"output": {"model": "\\ud800", "scores": []}}'
    response = _post(node_client, f"/api/v1/leases/{lease}/submit", body)
    assert response.status_code == 400
    assert "surrogate" in json.dumps(response.json())


def test_a_lone_surrogate_in_member_text_is_a_400(bot_client):
    response = _post(bot_client, "/api/v1/sources", '{"text": "Some text \\udc00 here."}')
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]
    # A pair is a character like any other.
    response = _post(bot_client, "/api/v1/sources", '{"text": "Smile \\ud83d\\ude00 please."}')
    assert response.status_code == 201


# --- finding 5: a duplicate submission reveals nothing of another member's source ----------------


def test_duplicate_of_another_members_source_reveals_nothing(bot_client_for):
    text = "The Library of Alexandria was one of the largest libraries of the ancient world."
    owner = bot_client_for(OTHER, "owner")
    created = owner.post(
        "/api/v1/sources",
        {
            "text": text,
            "title": "Secret title",
            "url": "https://private.example/x",
            "licence_note": "private note",
        },
        format="json",
    )
    assert created.status_code == 201
    source_id = created.json()["source"]["id"]
    member = bot_client_for(MEMBER, "member")
    assert member.get(f"/api/v1/sources/{source_id}").status_code == 404
    response = member.post("/api/v1/sources", {"text": text}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    leaked = response.content.decode()
    for secret in ("Secret title", "private.example", "private note", f'"id":{source_id}'):
        assert secret not in leaked
    # Its own submitter still gets the source back.
    again = owner.post("/api/v1/sources", {"text": text}, format="json")
    assert again.status_code == 200 and again.json()["source"]["id"] == source_id


# --- finding 6: every member endpoint is throttled, /ask lower ---------------------------------


def _member_views():
    """(route, view class) of every API route a member, the bot or staff calls."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "view_class", None)
                if view is not None and any(
                    issubclass(p, (IsMember, IsBotService, IsStaff))
                    or p.__name__.startswith("IsStaff")
                    for p in getattr(view, "permission_classes", [])
                ):
                    found.append((prefix + str(pattern.pattern), view))
            else:
                walk(pattern.url_patterns, prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns)
    return found


def test_every_member_facing_view_has_a_throttle_with_a_rate(db):
    user = Contributor.objects.get(pk=contributor_for_discord_user(MEMBER).pk).user
    factory = APIRequestFactory()
    views = _member_views()
    routes = {route for route, _ in views}
    for expected in (
        "api/v1/ask",
        "api/v1/me",
        "api/v1/leaderboard",
        "api/v1/layers",
        "api/v1/reviews/next",
        "api/v1/sources",
    ):
        assert expected in routes
    unthrottled = []
    for route, view_class in views:
        for method in ("get", "post"):
            if not hasattr(view_class, method):
                continue
            request = getattr(factory, method)("/" + route)
            force_authenticate(request, user=user)
            view = view_class()
            view.request = view.initialize_request(request)
            view.args, view.kwargs, view.format_kwarg = (), {}, None
            throttles = view.get_throttles()
            for throttle in throttles:
                throttle.allow_request(view.request, view)
            if not throttles or any(
                not isinstance(t, NodeThrottle) and getattr(t, "rate", None) is None
                for t in throttles
            ):
                unthrottled.append(f"{method.upper()} /{route}")
    assert not unthrottled


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/v1/me", "contributor"),
        ("/api/v1/leaderboard", "contributor"),
        ("/api/v1/sources", "contributor"),
        ("/api/v1/ask?q=sleep", "ask"),
    ],
)
def test_member_reads_answer_429_past_their_rate(bot_client, monkeypatch, path, scope):
    rates = {"contributor": "1000/min", "ask": "1000/min", scope: "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    codes = [bot_client.get(path).status_code for _ in range(3)]
    assert codes[-1] == 429, codes
    assert 429 not in codes[:2]


# --- finding 7: field limits, numbers in text fields, invisible text, JSON 413 -----------------


def test_licence_note_is_limited(bot_client):
    response = bot_client.post(
        "/api/v1/sources", {"text": "A short text.", "licence_note": "x" * 5000}, format="json"
    )
    assert response.status_code == 400
    assert "licence_note" in response.json()["errors"]


@pytest.mark.parametrize("field", ["title", "licence_note", "authors"])
def test_json_numbers_are_no_text(bot_client, field):
    body = json.dumps({"text": "A short text about numbers."})[:-1] + f', "{field}": 1e300}}'
    response = _post(bot_client, "/api/v1/sources", body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Source.objects.exists()


def test_a_number_too_large_for_a_float_is_refused(bot_client):
    response = _post(bot_client, "/api/v1/sources", '{"text": "Some text.", "title": 1e999}')
    assert response.status_code == 400
    assert not Source.objects.filter(title="inf").exists()


@pytest.mark.parametrize("invisible", ["\u200b\u200b\u200b", "\u200d \u2060\n\ufeff\u200c"])
def test_text_or_title_without_visible_characters_is_refused(bot_client, invisible):
    response = bot_client.post("/api/v1/sources", {"text": invisible}, format="json")
    assert response.status_code == 400
    response = bot_client.post(
        "/api/v1/sources", {"text": "Visible text.", "title": invisible}, format="json"
    )
    assert response.status_code == 400
    assert not Source.objects.exists()


def test_a_json_body_over_the_limit_is_a_json_413(bot_client, settings):
    body = json.dumps({"text": "a " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2 + 10)})
    response = _post(bot_client, "/api/v1/sources", body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "bytes" in response.json()["detail"]


# --- finding 8: the Discord id pattern is anchored at the very end ----------------------------


def test_a_discord_id_with_a_trailing_newline_bans_no_phantom(bot_client_for, settings):
    settings.DISCORD_MODERATOR_IDS = [MEMBER]
    target = contributor_for_discord_user("222222222222222222", display_name="target")
    moderator = bot_client_for(MEMBER, "moderator")
    response = moderator.post(
        "/api/v1/mod/members/222222222222222222%0A/ban", {"reason": "spam"}, format="json"
    )
    assert response.status_code in (400, 404)
    assert not Contributor.objects.filter(discord_id__endswith="\n").exists()
    target.refresh_from_db()
    assert not target.is_banned
    with pytest.raises(ValidationError):
        discord_snowflake("222222222222222222\n")


# --- finding 9: health, CSP, browsable API -----------------------------------------------------


def test_anonymous_health_shows_the_status_only_in_production(anonymous_client, settings):
    settings.PRODUCTION = True
    body = anonymous_client.get("/api/v1/health").json()
    assert set(body) == {"status"}
    settings.PRODUCTION = False
    assert "database" in anonymous_client.get("/api/v1/health").json()


def test_every_answer_carries_a_content_security_policy(anonymous_client, staff_client):
    for response in (
        anonymous_client.get("/api/v1/health"),
        anonymous_client.get("/api/v1/docs"),
        staff_client.get("/admin/"),
    ):
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_production_serves_no_browsable_api():
    script = (
        "import django; django.setup(); "
        "from rest_framework.settings import api_settings as a; "
        "print([c.__name__ for c in a.DEFAULT_RENDERER_CLASSES])"
    )
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG"}},
        "ALEXANDRIA_ENV": "production",
        "SECRET_KEY": "k3Xq9v_production-secret-with-plenty-of-entropy-0a8f7d6e5c4b3a291817",
        "ALLOWED_HOSTS": "alexandria.example.org",
        "DATABASE_URL": "sqlite:////tmp/alexandria-renderer-check.sqlite3",
        "DJANGO_SETTINGS_MODULE": "alexandria.settings",
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'platform'}",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "['JSONRenderer']"
