"""Fixtures for the acceptance tests: the real ``alexandria-worker`` process against the real
backend (pytest-django ``live_server``) and scripted OpenAI-compatible servers.

On SQLite the test database is in memory and the live server's threads share the test's one
connection: there the server answers one request at a time, and the tests read the database
only while no worker process is running (they wait on the worker's log or its exit, then for
the server to finish any request the worker left behind). On PostgreSQL requests run
concurrently, each on its own connection.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from alexandria.jobs.models import Job, WorkerNode
from alexandria.sources.models import Source
from jobkinds import describe, rate_age
from tests.support.fake_openai import FakeReply, fake_openai  # noqa: F401  (fixture)

WORKER_SCRIPT = Path(sys.executable).with_name("alexandria-worker")
MEMBER_ID = "420000000000000001"

TEXT = (
    "Marie Curie was a physicist and chemist who conducted pioneering research on "
    "radioactivity. She was the first woman to win a Nobel Prize and remains the only person "
    "to win Nobel Prizes in two scientific fields. Born in Warsaw, she moved to Paris in 1891 "
    "to study at the Sorbonne, where she met the physicist Pierre Curie."
)


@pytest.fixture(autouse=True)
def _integration_settings(settings):
    # Trusted results are applied as soon as they are valid: no random replication sample.
    settings.REPLICATION_SAMPLE_RATE = 0.0
    settings.TRUST_THRESHOLD = 0.5


# --- the scripted model ------------------------------------------------------------------------


@dataclass
class ProfileModel:
    """Answers describe and rate_age prompts like a model would; other kinds are a test bug.

    ``slow_first`` delays the first reply that long, so a worker is caught mid-job.
    """

    summary: str = "A biography of a scientist known for her research on radioactivity."
    category: str = "physics"
    age_rating: int = 0
    slow_first: float = 0.0
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: dict[str, Any]) -> FakeReply:
        with self._lock:
            self.calls += 1
            delay = self.slow_first if self.calls == 1 else 0.0
        system = request["messages"][0]["content"]
        if system.startswith(describe.SYSTEM_PROMPT):
            output = {
                "genre": "biography",
                "category": self.category,
                "keywords": ["radioactivity", "nobel prize", "physics"],
                "summary": self.summary,
            }
        elif system.startswith(rate_age.SYSTEM_PROMPT):
            output = {
                "age_rating": self.age_rating,
                "violence": "none",
                "sexual_content": "none",
                "suitability": "A factual account of a scientific career, fine for all readers.",
            }
        else:
            raise AssertionError(f"unexpected prompt: {system[:80]!r}")
        return FakeReply(json.dumps(output), delay=delay)


# --- the backend side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Volunteer:
    node_id: int
    token: str
    contributor_id: int

    @property
    def node(self) -> WorkerNode:
        return WorkerNode.objects.get(pk=self.node_id)


@pytest.fixture
def register_volunteer(bot_client_for, transactional_db) -> Callable[..., Volunteer]:
    """Register a node through ``POST /api/v1/nodes`` as the bot, for the given member."""

    def register(
        discord_id: str, *, kinds=("describe", "rate_age"), trust: float | None = None
    ) -> Volunteer:
        response = bot_client_for(discord_id, f"volunteer {discord_id[-2:]}").post(
            "/api/v1/nodes",
            {"name": "home-gpu", "capabilities": {"kinds": list(kinds), "gpu": "RTX 4090"}},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["trust"] == 0.0  # new nodes start untrusted
        if trust is not None:
            WorkerNode.objects.filter(pk=body["id"]).update(trust=trust)
        node = WorkerNode.objects.get(pk=body["id"])
        return Volunteer(node_id=node.pk, token=body["token"], contributor_id=node.owner_id)

    return register


@pytest.fixture
def submit_source(bot_client_for, transactional_db) -> Callable[..., Source]:
    """Submit a member's text through the bot API; the eager pipeline chunks it and queues its
    extract_graph, describe and rate_age jobs."""

    def submit(title: str = "Marie Curie", text: str = TEXT) -> Source:
        response = bot_client_for(MEMBER_ID, "member").post(
            "/api/v1/sources", {"title": title, "text": text}, format="json"
        )
        assert response.status_code == 201, response.content
        source = Source.objects.get(pk=response.json()["source"]["id"])
        assert source.status == Source.Status.ANALYSING
        return source

    return submit


@pytest.fixture
def submitted_source(submit_source) -> Source:
    return submit_source()


def profile_job(source: Source, kind: str) -> Job:
    return Job.objects.get(source=source, kind=kind, replica_of__isnull=True)


# --- the worker process --------------------------------------------------------------------------


class WorkerProcess:
    """A running ``alexandria-worker`` whose output is collected line by line as it comes."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        after_exit: Callable[[], None],
    ) -> None:
        self.command = command
        self._after_exit = after_exit
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition(threading.RLock())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> str:
        """The first output line matching ``pattern``; fails if the worker exits or times out."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no line matching {pattern!r} from the worker "
                        f"(exit code {self.process.poll()}):\n{self.output}"
                    )
                self._changed.wait(min(left, 0.2))

    def count_lines(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._changed:
            return sum(1 for line in self.lines if regex.search(line))

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the worker to exit on its own; its exit code."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self._after_exit()
        return code

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a graceful shutdown), then wait for the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def kill(self) -> None:
        """SIGKILL: the machine died; nothing is released or submitted."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        self._after_exit()


StartWorker = Callable[..., WorkerProcess]


def worker_environment() -> dict[str, str]:
    """The environment without any ALEXANDRIA_* setting, so only the arguments count."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ALEXANDRIA_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class OneRequestAtATime:
    """WSGI wrapper that serves one request at a time, its response rendered and closed
    (``request_finished`` included) before the next one starts."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            response = self.app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                if hasattr(response, "close"):
                    response.close()

    def wait_until_idle(self) -> None:
        with self.lock:
            pass


@pytest.fixture
def live_backend(live_server) -> Iterator[Callable[[], None]]:
    """The live server, serialised where its threads share one SQLite connection; yields a
    function that returns once no request is being served."""
    httpd = live_server.thread.httpd
    if not live_server.thread.connections_override:
        yield lambda: None
        return
    original = httpd.get_app()
    serialised = OneRequestAtATime(original)
    httpd.set_app(serialised)
    try:
        yield serialised.wait_until_idle
    finally:
        httpd.set_app(original)


@pytest.fixture
def start_worker(live_server, live_backend, tmp_path) -> Iterator[StartWorker]:
    """Start ``alexandria-worker`` against the live server for a volunteer and an LLM server;
    anything still running at the end is killed."""
    started: list[WorkerProcess] = []

    def start(
        volunteer: Volunteer,
        llm_base_url: str,
        *args: str,
        script: Path = WORKER_SCRIPT,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        assert script.exists(), f"{script} is missing: install the project with the worker extra"
        command = [
            str(script),
            "--server", live_server.url,
            "--token", volunteer.token,
            "--llm-base-url", llm_base_url,
            "--poll-interval", "0.2",
            "--no-progress",
            *args,
        ]  # fmt: skip
        process = WorkerProcess(
            command, env=env or worker_environment(), cwd=tmp_path, after_exit=live_backend
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill()
