"""The API client against a real local HTTP server: headers, bodies and typed errors."""

import socket

import pytest

from bot.client import (
    Actor,
    AlexandriaClient,
    BackendUnreachable,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Throttled,
)
from tests.bot.conftest import MEMBER_ID, SERVICE_TOKEN

ACTOR = Actor(MEMBER_ID, "Zoë")


def test_calls_name_the_acting_member(run, backend, api):
    backend.route("GET", "/api/v1/me", body={"id": 1, "reputation": 1.0})
    assert run(api.me(ACTOR))["id"] == 1
    request = backend.requests[0]
    assert request.headers["Authorization"] == f"Bot {SERVICE_TOKEN}"
    assert request.headers["X-Discord-User"] == str(MEMBER_ID)
    assert request.headers["X-Discord-Name"].encode("latin-1").decode("utf-8") == "Zoë"


def test_file_upload_is_multipart(run, backend, api):
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": {"id": 3}})
    result = run(
        api.submit_file(
            ACTOR, filename="notes.md", content=b"# Hi", content_type="text/markdown", title="T"
        )
    )
    assert result["source"]["id"] == 3
    request = backend.requests[0]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert 'filename="notes.md"' in request.body


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, InvalidRequest),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_error_statuses_become_typed_exceptions(run, backend, api, status, error_type):
    backend.route("GET", "/api/v1/me", status, {"detail": f"backend says {status}"})
    with pytest.raises(error_type) as caught:
        run(api.me(ACTOR))
    assert caught.value.detail == f"backend says {status}"
    assert caught.value.status == status


def test_throttling_carries_retry_after(run, backend, api):
    backend.route(
        "GET", "/api/v1/reviews/next", 429, {"detail": "Slow down."}, {"Retry-After": "17"}
    )
    with pytest.raises(Throttled) as caught:
        run(api.next_review(ACTOR))
    assert caught.value.retry_after == 17.0


def test_banned_member_is_recognised(run, backend, api):
    backend.route("GET", "/api/v1/me", 403, {"detail": "This member is banned from Alexandria."})
    with pytest.raises(Forbidden) as caught:
        run(api.me(ACTOR))
    assert caught.value.banned


def test_unreachable_backend(run):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def call():
        async with AlexandriaClient(f"http://127.0.0.1:{port}", "x", timeout=2) as client:
            await client.me(ACTOR)

    with pytest.raises(BackendUnreachable):
        run(call())
