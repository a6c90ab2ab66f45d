"""``python -m tests.worker.worker_with_fake_model ARGS``: the real CLI, whose ``--local``
model server is ``fake_model_server.py`` (arguments from ``FAKE_MODEL_ARGS``) instead of
llama.cpp, supervised by the same code."""

import os
import shlex
import sys
from pathlib import Path

import tests.worker.echo_kind  # noqa: F401  (registers echo_summary)
from worker import local_llm
from worker.cli import main

FAKE_SERVER = Path(__file__).with_name("fake_model_server.py")


def fake_server_command(port: int, n_ctx: int = local_llm.LOCAL_CONTEXT_TOKENS) -> list[str]:
    extra = shlex.split(os.environ.get("FAKE_MODEL_ARGS", ""))
    return [sys.executable, str(FAKE_SERVER), "--port", str(port), *extra]


if __name__ == "__main__":
    local_llm.server_command = fake_server_command
    sys.exit(main())
