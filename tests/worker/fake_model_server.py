"""A stand-in for llama.cpp's server as a process of its own, for the supervision tests.

``python tests/worker/fake_model_server.py --port N --state DIR [--segv-runs 1,2] [--latency S]``
serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (a valid echo_summary reply, with
``--latency`` seconds of "thinking"). Each run writes its pid to ``DIR/run-<n>.pid`` and each
chat request it receives to ``DIR/requests``; a run whose number is in ``--segv-runs`` kills
itself with SIGSEGV on its first chat request, as llama.cpp does when it faults.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "smollm2-135m-instruct"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--segv-runs", default="")
    parser.add_argument("--latency", type=float, default=0.0)
    args, _ = parser.parse_known_args()
    args.state.mkdir(parents=True, exist_ok=True)
    run = len(list(args.state.glob("run-*.pid"))) + 1
    (args.state / f"run-{run}.pid").write_text(str(os.getpid()))
    segfaults = str(run) in args.segv_runs.split(",")
    print(f"fake model server run {run} on port {args.port}", file=sys.stderr, flush=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._reply({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            with (args.state / "requests").open("a") as requests:
                requests.write(f"{run}\n")
            if segfaults:
                print("ggml: segmentation fault in the fake model", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(args.latency)
            text = body["messages"][-1]["content"]
            content = json.dumps({"summary": "ok", "words": len(text.split())})
            self._reply(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                }
            )

        def _reply(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet, like a healthy model server."""

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
