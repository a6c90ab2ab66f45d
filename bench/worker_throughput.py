"""Worker throughput against an LLM of fixed latency: does concurrency C give ~C/L jobs/s?

Starts the fake backend with many queued jobs and the fake OpenAI server answering after
``--latency`` seconds, runs the real worker process with ``--concurrency``, and measures
jobs per second from the first lease to the last hand-in of results. Passes (exit 0) at >= 0.9·C/L.

    python -m bench.worker_throughput --concurrency 16 --latency 0.5 --jobs 320
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.fake_backend import FakeBackend
from tests.support.fake_openai import FakeOpenAIServer
from tests.worker.echo_kind import valid_reply

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"  # noqa: S105  (a fake backend's token)
REQUIRED_FRACTION = 0.9


def measure(concurrency: int, latency: float, jobs: int, prefetch: int | None) -> float:
    """Jobs per second the worker process sustains; also prints the details."""
    with (
        FakeBackend([TOKEN], lease_seconds=60) as backend,
        FakeOpenAIServer(valid_reply, latency=latency) as llm,
    ):
        for n in range(jobs):
            backend.add_job("echo_summary", {"text": f"document {n}"})
        command = [
            sys.executable, "-m", "tests.worker.worker_with_test_kinds",
            "--server", backend.url, "--token", TOKEN, "--llm-base-url", llm.base_url,
            "--concurrency", str(concurrency), "--poll-interval", "0.2", "--no-progress",
        ]  # fmt: skip
        if prefetch is not None:
            command += ["--prefetch", str(prefetch)]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        worker = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            backend.wait_until(
                lambda: all(job.status == "done" for job in backend.jobs.values()),
                timeout=jobs * latency * 2 + 60,
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            _, stderr = worker.communicate(timeout=30)
        if worker.returncode != 0:
            raise SystemExit(f"worker exited {worker.returncode}:\n{stderr.decode()[-3000:]}")
        exchanges = backend.calls("jobs/exchange")
        first_lease = exchanges[0].received_at
        last_submit = max(call.received_at for call in exchanges if call.body.get("results"))
    span = last_submit - first_lease
    throughput = jobs / span
    shown = "worker default" if prefetch is None else prefetch
    print(f"jobs={jobs} concurrency={concurrency} latency={latency:.3f}s prefetch={shown}")
    print(f"span={span:.2f}s throughput={throughput:.2f} jobs/s")
    print(
        f"ideal C/L={concurrency / latency:.2f} jobs/s -> {throughput * latency / concurrency:.1%}"
    )
    return throughput


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--jobs", type=int, default=None, help="default: 20 x concurrency")
    parser.add_argument("--prefetch", type=int, default=None, help="default: the worker's")
    args = parser.parse_args()
    jobs = args.jobs or 20 * args.concurrency
    started = time.monotonic()
    throughput = measure(args.concurrency, args.latency, jobs, args.prefetch)
    target = REQUIRED_FRACTION * args.concurrency / args.latency
    verdict = "PASS" if throughput >= target else "FAIL"
    print(
        f"target >= {target:.2f} jobs/s: {verdict} (bench took {time.monotonic() - started:.1f}s)"
    )
    return 0 if throughput >= target else 1


if __name__ == "__main__":
    sys.exit(main())
