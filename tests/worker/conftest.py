"""Fixtures for the worker tests: fake LLM server, fake backend, and the worker as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fake_backend import FakeBackend
from tests.support.fake_openai import fake_openai  # noqa: F401  (fixture)
from tests.worker import echo_kind  # noqa: F401  (registers echo_summary for every test)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "node-token"


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    with FakeBackend([TOKEN], lease_seconds=3) as backend:
        yield backend


WorkerProcess = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start_worker() -> Iterator[WorkerProcess]:
    """Start the real worker CLI as a subprocess; anything still running is killed after."""
    processes: list[subprocess.Popen[str]] = []

    def start(
        *args: str,
        module: str = "tests.worker.worker_with_test_kinds",
        hide_modules: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ):
        """Run ``python -m module --no-progress *args``; ``hide_modules`` act as not installed;
        ``env`` adds to the environment."""
        env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
        for name in list(env):
            if name.startswith("ALEXANDRIA_"):
                del env[name]
        launcher = (
            "import runpy, sys\n"
            f"for name in {hide_modules!r}: sys.modules[name] = None\n"
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", launcher, "--no-progress", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def pytest_collection_modifyitems(config, items):
    """Soak tests run only when selected (``-m soak``): they take many minutes."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="soak test: run it with -m soak (make soak)")
    for item in items:
        if item.get_closest_marker("soak"):
            item.add_marker(skip)
