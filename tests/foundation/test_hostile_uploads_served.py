"""Issue 21, acceptance 2: under gunicorn, hostile uploads are answered at once and a
concurrent /health is answered throughout; their extraction (the task's function, run here
in-process) finishes or refuses with a reason within the task's time limit.

Before the fix, extraction ran in the request: a 36 KB Markdown file made gunicorn kill its
worker, and 2 MiB would have taken hours.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from alexandria.core.tasking import Task, registered
from alexandria.sources import tasks as source_tasks
from alexandria.sources.models import Source
from tests.conftest import BOT_TOKEN
from tests.textproc.pdf_factory import text_pdf

REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
MIB = 1024 * 1024
ANSWER_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hostile_files() -> dict[str, tuple[bytes, str]]:
    lines = [f"The same line of text, drawn again and again ({i % 7})." for i in range(20000)]
    return {
        "adversarial.md": ((b"_a " * (2 * MIB // 3))[: 2 * MIB - 16], "text/markdown"),
        "nested.html": ((b"<div>" * (2 * MIB // 5))[: 2 * MIB - 16], "text/html"),
        "bomb.pdf": (text_pdf([lines], compress=True), "application/pdf"),
    }


@pytest.fixture
def gunicorn(postgres, redis_url):
    """gunicorn on the test database; tasks go to a broker nobody consumes, so no request
    extracts anything."""
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": redis_url,
        "BOT_SERVICE_TOKEN": BOT_TOKEN,
        "DEBUG": "false",
        "SECRET_KEY": "hostile-uploads-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "python:alexandria.gunicorn_config", "--timeout", "30"],
        cwd=REPO / "platform",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not come up"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class HealthProbe(threading.Thread):
    """Asks /health again and again; records every answer's status and time."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.answers: list[tuple[int, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stopped.is_set():
                started = time.perf_counter()
                try:
                    status = client.get(f"{self.base}/api/v1/health").status_code
                except httpx.TransportError:
                    status = 0
                self.answers.append((status, time.perf_counter() - started))
                time.sleep(0.05)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_hostile_uploads_are_answered_at_once_and_extracted_within_the_limit(gunicorn, monkeypatch):
    probe = HealthProbe(gunicorn)
    probe.start()
    headers = {"Authorization": f"Bot {BOT_TOKEN}", "X-Discord-User": "100000000000000042"}
    submitted = {}
    try:
        with httpx.Client(base_url=gunicorn, headers=headers, timeout=30) as client:
            for name, (data, content_type) in hostile_files().items():
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/sources", files={"file": (name, data, content_type)}
                )
                elapsed = time.perf_counter() - started
                assert response.status_code == 201, response.text
                assert elapsed < ANSWER_SECONDS, (name, elapsed)
                assert response.json()["source"]["status"] == "extracting"
                submitted[name] = response.json()["source"]["id"]
    finally:
        time.sleep(0.5)
        probe.stopped.set()
        probe.join()
    assert probe.answers and all(status == 200 for status, _ in probe.answers), probe.answers
    assert max(seconds for _, seconds in probe.answers) < ANSWER_SECONDS

    # Ingestion is the next stage's business, not this test's.
    monkeypatch.setattr(registered(Task.INGEST_SOURCE), "delay", lambda *args: None)
    for name, source_id in submitted.items():
        started = time.perf_counter()
        source_tasks.extract_upload(source_id)
        elapsed = time.perf_counter() - started
        assert elapsed < settings.SOURCE_EXTRACTION_SECONDS, (name, elapsed)
        source = Source.objects.get(pk=source_id)
        assert source.status in (Source.Status.RECEIVED, Source.Status.FAILED), name
        assert source.status == Source.Status.RECEIVED or source.failure_reason, name
    bomb = Source.objects.get(pk=submitted["bomb.pdf"])
    assert (bomb.status, bomb.text) == (Source.Status.FAILED, "")
    assert "decompression bomb" in bomb.failure_reason
