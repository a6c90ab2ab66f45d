"""Property-based API robustness: schemathesis drives every documented operation of a live
test server, as a volunteer node and as the Discord bot, and checks the answers against the
OpenAPI schema the server publishes.

Runs against pytest-django's ``live_server`` (a real HTTP server in a thread), so requests go
through the full stack: WSGI, middleware, authentication, parsers and the exception handler.
Generation is derandomised and bounded (EXAMPLES per operation), so a failure reproduces.
"""

import hashlib
import re
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.jobs.services.leasing import lease_jobs
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.nodes import register_node
from alexandria.jobs.throttles import NodeThrottle
from alexandria.knowledge.models import KnowledgeItem
from alexandria.reviews.models import Report
from alexandria.reviews.services import next_task
from alexandria.sources.models import Source
from tests.conftest import BOT_TOKEN
from tests.support.anchors import anchor_on

# Examples per operation and caller: valid inputs, then inputs that break the schema.
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
BOT_MEMBER = "100000000000000001"
NODE_OWNER = "100000000000000002"
BAN_TARGET = "100000000000000003"
SOURCE_TEXT = (
    "The Library of Alexandria was one of the largest libraries of the ancient world. "
    "It was part of the Mouseion, dedicated to the Muses."
)
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
HYPOTHESIS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Seeded:
    """Real objects, so that id-taking routes sometimes find what they ask for."""

    node_token: str
    path_values: dict[str, str]


@pytest.fixture
def seeded(live_server, settings, monkeypatch) -> Seeded:
    # DRF binds DEFAULT_THROTTLE_RATES to the throttle classes at import; raise them there.
    rates = {
        scope: "100000/min"
        for scope in ("contributor", "ask", "submit", "node", "node_owner", "public", "public_key")
    }
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(NodeThrottle, "THROTTLE_RATES", rates)
    settings.DISCORD_MODERATOR_IDS = [BOT_MEMBER]
    settings.REVIEW_GOLD_RATE = 0.0

    bot_member = contributor_for_discord_user(BOT_MEMBER, display_name="bot member")
    node_owner = contributor_for_discord_user(NODE_OWNER, display_name="node owner")
    contributor_for_discord_user(BAN_TARGET, display_name="to be banned")
    registered = register_node(node_owner, name="gpu-1", capabilities={"kinds": ["clip_score"]})
    node = registered.node
    # The bot member's own node: revoking it through the API must not lock out the test node.
    own_node = register_node(bot_member, name="spare", capabilities={"kinds": ["clip_score"]}).node
    pair = {"id": "p0", "text": "a cat", "image_b64": "iVBORw0KGgo="}
    create_job("clip_score", {"pairs": [pair], "threshold": 0.28})
    lease_id = lease_jobs(node, max_jobs=1)[0].lease_id

    source = Source.objects.create(
        title="Ancient libraries",
        url="https://example.org/libraries",
        sha256=hashlib.sha256(SOURCE_TEXT.encode()).hexdigest(),
        char_count=len(SOURCE_TEXT),
        byte_size=len(SOURCE_TEXT.encode()),
        text=SOURCE_TEXT,
        submitted_by=bot_member,
    )
    anchor = anchor_on(source, "one of the largest libraries")
    item = KnowledgeItem.objects.create(
        kind=KnowledgeItem.Kind.HYPOTHESIS, text="The library was large.", author=node_owner
    )
    item.anchors.add(anchor)
    task = next_task(bot_member).task
    report = Report.objects.create(item=item, reporter=node_owner, comment="Check this.")
    return Seeded(
        node_token=registered.token,
        path_values={
            "/api/v1/leases/{lease_id}/heartbeat": {"lease_id": str(lease_id)},
            "/api/v1/leases/{lease_id}/submit": {"lease_id": str(lease_id)},
            "/api/v1/leases/{lease_id}/fail": {"lease_id": str(lease_id)},
            "/api/v1/nodes/{id}/revoke": {"id": own_node.pk},
            "/api/v1/sources/{id}": {"id": source.pk},
            "/api/v1/reviews/tasks/{id}/answer": {"id": task.pk},
            "/api/v1/reports/{id}/relayed": {"id": report.pk},
            "/api/v1/mod/items/{id}/hide": {"id": item.pk},
            "/api/v1/mod/members/{discord_id}/ban": {"discord_id": BAN_TARGET},
            "/api/v1/public/items/{id}": {"id": item.pk},
            "/api/v1/public/sources/{id}": {"id": source.pk},
        },
    )


def exercise(case, headers: dict[str, str], seeded: Seeded) -> None:
    """Send the generated case; for id-taking routes, send it again aimed at a real object."""
    case.call_and_validate(headers=headers, checks=CHECKS)
    real = seeded.path_values.get(case.operation.path)
    if real:
        case.path_parameters = {**(case.path_parameters or {}), **real}
        case.call_and_validate(headers=headers, checks=CHECKS)


def callers(seeded: Seeded) -> dict[str, dict[str, str]]:
    return {
        "node": {"Authorization": f"Node {seeded.node_token}"},
        "bot": {"Authorization": f"Bot {BOT_TOKEN}", "X-Discord-User": BOT_MEMBER},
        "anonymous": {},
    }


@pytest.mark.parametrize("caller", ["node", "bot", "anonymous"])
def test_every_operation_answers_within_its_schema(live_server, seeded, caller):
    # Schemathesis' lazy pytest integration (from_fixture) breaks on pytest 9, so each operation
    # gets its own Hypothesis run here, and every failing operation is reported, not the first.
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema")
    headers = callers(seeded)[caller]
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in EXAMPLES:

            @settings(max_examples=EXAMPLES[mode], **HYPOTHESIS)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                exercise(case, headers, seeded)

            try:
                run()
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid (no parameters)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)


# Hostile bodies (issue 21) on every JSON operation: nesting far past MAX_JSON_DEPTH, and
# strings no text should be (a lone surrogate, only zero-width characters, direction
# overrides, NUL, combining marks alone) or numbers past a float. Sent raw, as an attacker
# would, so the escapes reach the server's parser as they are.
EDGE_STRINGS = [
    "\\ud800",
    "a\\udfffb",
    "\\u200b\\u200c\\u200d\\u2060",
    "\\u202eevil\\u202c",
    "\\u0000",
    "\\u0301\\u0301",
    "\\ud83d\\ude00 ok",
]
HOSTILE_BODIES = [
    "[" * 3000 + "]" * 3000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    '{"x": 1e999}',
]


def _json_operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield path, method, content["application/json"].get("schema", {})


def _properties(schema: dict, components: dict) -> list[str]:
    ref = schema.get("$ref", "")
    if ref:
        schema = components[ref.rsplit("/", 1)[-1]]
    return list(schema.get("properties", {})) or ["text"]


@pytest.mark.parametrize("caller", ["node", "bot"])
def test_hostile_json_bodies_get_no_server_error(live_server, seeded, caller):
    schema = requests.get(f"{live_server.url}/api/v1/schema?format=json", timeout=10).json()
    components = schema.get("components", {}).get("schemas", {})
    headers = {**callers(seeded)[caller], "Content-Type": "application/json"}
    errors = []
    for path, method, body_schema in _json_operations(schema):
        url = live_server.url + path
        for name, value in seeded.path_values.get(path, {}).items():
            url = url.replace("{" + name + "}", str(value))
        url = re.sub(r"\{[^}]+\}", "1", url)
        names = _properties(body_schema, components)
        bodies = HOSTILE_BODIES + [
            "{" + ",".join(f'"{name}": "{edge}"' for name in names) + "}" for edge in EDGE_STRINGS
        ]
        for body in bodies:
            response = requests.request(
                method, url, data=body.encode(), headers=headers, timeout=30
            )
            if response.status_code >= 500 or "json" not in response.headers["Content-Type"]:
                errors.append(f"{method.upper()} {path} {body[:40]!r}: {response.status_code}")
    assert not errors, "\n".join(errors)
