"""A real OpenAI-compatible HTTP server for tests: scripted chat completions on 127.0.0.1.

Anything that speaks to an LLM through ``openai`` (or plain HTTP) can be pointed at
``server.base_url`` and gets real HTTP round trips, so timeouts, retries, status codes and
concurrency behave as they would against vLLM or llama.cpp. Replies come, in order, from:

1. ``server.queue(...)``: replies served once each, first in first out;
2. ``server.responder``: a callable ``responder(request_json) -> str | FakeReply``;
3. otherwise HTTP 500, so a test that forgot to script a reply fails loudly.

A ``str`` reply is the assistant message content; a ``FakeReply`` can also set usage, an
extra delay, or an error status (e.g. 400 to reject ``response_format``). Every request
body is recorded in ``server.requests``. ``latency`` delays every chat reply.

Usage in a test (the ``fake_openai`` fixture below starts and stops one per test)::

    def test_summary(fake_openai):
        fake_openai.queue('{"summary": "ok"}')
        client = openai.OpenAI(base_url=fake_openai.base_url, api_key="x")
        ...
        assert fake_openai.requests[0]["messages"][0]["role"] == "system"

Importing it: ``from tests.support.fake_openai import fake_openai  # noqa: F401`` in a
conftest.py makes the fixture available to the tests beside it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

__all__ = [
    "FakeOpenAIServer",
    "FakeReply",
    "JsonServer",
    "Request",
    "Response",
    "fake_openai",
    "reject_response_formats",
]


# --- a small JSON-over-HTTP server base (also used by fake_backend) -------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body then
    # waits for the client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: _ThreadingServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        request = Request(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = self.server.owner.handle(request)
        except Exception as exc:  # a bug in a test's responder should show, not hang
            response = Response(500, {"error": {"message": f"{type(exc).__name__}: {exc}"}})
        data = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; requests are recorded by the owner instead."""


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops bursts of connections (clients then wait a
    # 1 s SYN retransmit), which would make concurrency tests measure the kernel.
    request_queue_size = 128
    owner: JsonServer


class JsonServer(ABC):
    """Serves ``handle(request) -> Response`` over real HTTP on an ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        self._httpd: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        # Set on stop(), so handlers sleeping for latency wake up instead of holding threads.
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer one request; runs on the server's handler threads."""

    def start(self) -> Self:
        self._httpd = _ThreadingServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how fast stop() returns
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- the OpenAI-compatible server -----------------------------------------------------------


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer. ``status`` other than 200 answers with an OpenAI error body."""

    content: str = ""
    status: int = 200
    error: str = "rejected by the fake server"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    delay: float = 0.0


Responder = Callable[[dict[str, Any]], "str | FakeReply"]


def _word_count(text: str) -> int:
    return len(text.split())


class FakeOpenAIServer(JsonServer):
    """OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models`` from a script."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        models: tuple[str, ...] = ("fake-model",),
    ) -> None:
        super().__init__()
        self.responder = responder
        self.latency = latency
        self.models = models
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[str | FakeReply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to an OpenAI client."""
        return f"{self.url}/v1"

    def queue(self, *replies: str | FakeReply) -> None:
        """Serve these replies, once each and in order, before falling back to the responder."""
        with self._lock:
            self._queue.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` chat requests arrived; the recorded requests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.requests)} of {count} chat requests arrived")

    def handle(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
            return Response(200, {"object": "list", "data": data})
        if request.method == "POST" and path == "/v1/chat/completions":
            return self._chat(request.body)
        return Response(404, {"error": {"message": f"no route {request.method} {path}"}})

    def _chat(self, body: Any) -> Response:
        if not isinstance(body, dict) or "messages" not in body:
            return _error(400, "body must be a JSON object with messages")
        with self._lock:
            self.requests.append(body)
            scripted = self._queue.popleft() if self._queue else None
        if scripted is None and self.responder is not None:
            scripted = self.responder(body)
        if scripted is None:
            return _error(500, "the fake OpenAI server has no scripted reply left")
        reply = FakeReply(content=scripted) if isinstance(scripted, str) else scripted
        self.stopping.wait(self.latency + reply.delay)
        if reply.status != 200:
            return _error(reply.status, reply.error)
        prompt_text = " ".join(str(m.get("content", "")) for m in body["messages"])
        prompt_tokens = reply.prompt_tokens
        completion_tokens = reply.completion_tokens
        usage = {
            "prompt_tokens": _word_count(prompt_text) if prompt_tokens is None else prompt_tokens,
            "completion_tokens": (
                _word_count(reply.content) if completion_tokens is None else completion_tokens
            ),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return Response(
            200,
            {
                "id": f"chatcmpl-fake-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.models[0]),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )


def _error(status: int, message: str) -> Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return Response(status, {"error": {"message": message, "type": kind, "code": None}})


def reject_response_formats(rejected: set[str], responder: Responder) -> Responder:
    """Wrap ``responder`` to answer 400 when ``response_format.type`` is in ``rejected``,
    like servers without structured-output support."""

    def respond(request: dict[str, Any]) -> str | FakeReply:
        fmt = (request.get("response_format") or {}).get("type")
        if fmt in rejected:
            return FakeReply(status=400, error=f"response_format {fmt} is not supported")
        return responder(request)

    return respond


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A started FakeOpenAIServer, stopped after the test; script it with queue()/responder."""
    with FakeOpenAIServer() as server:
        yield server
