"""Lease throughput benchmark: gunicorn + PostgreSQL, simulated nodes doing lease+submit.

Run by hand (not part of the test suite), from the repository root:

    .venv/bin/python bench/lease_bench.py --clients 64 --seconds 10

It (re)creates the database ``--db`` (default ``alexandria_bench``) on ``--pg``, migrates it,
registers nodes, starts gunicorn on the app, and for batch sizes 1 and 16 runs ``--clients``
threads that each lease, submit every leased job, and lease again. It reports jobs/s, lease
latency percentiles, double leases (from the client log and from the database), and, for
comparison, the rate of a raw-SQL ``FOR UPDATE SKIP LOCKED`` dequeue on the same database.
Validation is handed to Celery through ``--broker`` (its queue is purged afterwards).
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
CONTRIBUTORS = 8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="alexandria_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lease-only", action="store_true", help="don't submit results")
    return parser.parse_args()


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{args.db}",
        "CELERY_BROKER_URL": args.broker,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_NODE": "100000000/min",
        "THROTTLE_NODE_OWNER": "100000000/min",
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'platform'}",
        "DJANGO_SETTINGS_MODULE": "alexandria.settings",
    }


def recreate_database(args: argparse.Namespace) -> None:
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=REPO,
        env=server_env(args),
        check=True,
    )


def setup_django(args: argparse.Namespace) -> None:
    os.environ.update(server_env(args))
    sys.path[:0] = [str(REPO), str(REPO / "platform")]
    import django

    django.setup()


def register_nodes(count: int) -> list[str]:
    """Nodes spread over a few contributors, trusted so validation doesn't replicate."""
    from alexandria.contributors.services import contributor_for_discord_user
    from alexandria.jobs.models import WorkerNode
    from alexandria.jobs.services import register_node

    owners = [contributor_for_discord_user(f"9{i:017d}") for i in range(CONTRIBUTORS)]
    tokens = []
    for i in range(count):
        registered = register_node(
            owners[i % CONTRIBUTORS], name=f"bench-{i}", capabilities={"kinds": ["clip_score"]}
        )
        tokens.append(registered.token)
    WorkerNode.objects.update(trust=1.0)
    return tokens


def seed_jobs(count: int) -> None:
    from django.db import connection

    from alexandria.jobs.models import Job
    from alexandria.jobs.services import canonical_json

    payload = {"pairs": [{"id": "p0", "text": "a cat", "image_b64": "aGVsbG8="}]}
    size = len(canonical_json(payload))
    for start in range(0, count, 5000):
        Job.objects.bulk_create(
            Job(kind="clip_score", payload=payload, size_hint=size)
            for _ in range(min(5000, count - start))
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_job")


def reset_queue(args: argparse.Namespace) -> None:
    with psycopg.connect(f"{args.pg}/{args.db}", autocommit=True) as conn:
        conn.execute(
            "TRUNCATE jobs_creditentry, jobs_jobevent, jobs_jobresult, jobs_lease, jobs_job CASCADE"
        )


def start_server(args: argparse.Namespace, token: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "alexandria.wsgi",
        "--bind", f"127.0.0.1:{args.port}",
        "--worker-class", "gthread",
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--keep-alive", "30",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, env=server_env(args))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", "/api/v1/nodes/me", headers={"Authorization": f"Node {token}"})
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not come up")


class Node(threading.Thread):
    """A simulated node: lease a batch, submit each job (unless lease-only), repeat."""

    def __init__(self, args, token: str, batch: int, stop_at: float):
        super().__init__(daemon=True)
        self.args, self.batch, self.stop_at = args, batch, stop_at
        self.headers = {"Authorization": f"Node {token}", "Content-Type": "application/json"}
        self.lease_latencies: list[float] = []
        self.leased: list[int] = []
        self.submitted = 0
        self.errors: Counter[str] = Counter()

    def call(self, conn, path: str, body: dict) -> tuple[int, dict]:
        conn.request("POST", path, json.dumps(body), self.headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {})

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=30)
        while time.monotonic() < self.stop_at:
            started = time.perf_counter()
            status, body = self.call(conn, "/api/v1/jobs/lease", {"max_jobs": self.batch})
            self.lease_latencies.append(time.perf_counter() - started)
            if status != 200:
                self.errors[f"lease {status}"] += 1
                continue
            if not body["jobs"]:
                return
            for job in body["jobs"]:
                self.leased.append(job["job_id"])
                if self.args.lease_only:
                    continue
                output = {
                    "model": "ViT-B-32",
                    "scores": [{"id": "p0", "similarity": 0.31, "keep": True}],
                }
                status, _ = self.call(
                    conn,
                    f"/api/v1/leases/{job['lease_id']}/submit",
                    {"output": output, "stats": {"elapsed_s": 0.01}},
                )
                if status == 200:
                    self.submitted += 1
                else:
                    self.errors[f"submit {status}"] += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run_phase(args, tokens: list[str], batch: int) -> dict:
    stop_at = time.monotonic() + args.seconds
    nodes = [Node(args, token, batch, stop_at) for token in tokens[: args.clients]]
    started = time.perf_counter()
    for node in nodes:
        node.start()
    for node in nodes:
        node.join()
    elapsed = time.perf_counter() - started
    leased = [job_id for node in nodes for job_id in node.leased]
    latencies = [lat for node in nodes for lat in node.lease_latencies]
    with psycopg.connect(f"{args.pg}/{args.db}") as conn:
        db_doubles = conn.execute(
            "SELECT count(*) FROM (SELECT job_id FROM jobs_lease GROUP BY job_id "
            "HAVING count(*) > 1) AS doubled"
        ).fetchone()[0]
    errors = sum((node.errors for node in nodes), Counter())
    return {
        "batch": batch,
        "clients": len(nodes),
        "seconds": round(elapsed, 2),
        "jobs_leased": len(leased),
        "jobs_submitted": sum(node.submitted for node in nodes),
        "jobs_per_s": round(
            (len(leased) if args.lease_only else sum(n.submitted for n in nodes)) / elapsed, 1
        ),
        "lease_calls": len(latencies),
        "lease_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "lease_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "lease_mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else 0.0,
        "double_leases_seen_by_clients": sum(1 for n in Counter(leased).values() if n > 1),
        "double_leases_in_db": db_doubles,
        "errors": dict(errors),
    }


def raw_skip_locked_rate(args, batch: int, seconds: float = 5.0, threads: int = 16) -> float:
    """Jobs/s of the bare dequeue statement, to show how close the API gets to the database."""
    statement = (
        "UPDATE jobs_job SET status = 'leased', lease_owner_id = %s, "
        "lease_expires_at = now() + interval '10 minutes' "
        "WHERE id IN (SELECT id FROM jobs_job WHERE status = 'queued' "
        "ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    with psycopg.connect(f"{args.pg}/{args.db}") as conn:
        node_id = conn.execute("SELECT min(id) FROM jobs_workernode").fetchone()[0]
    counts = [0] * threads
    stop_at = time.monotonic() + seconds

    def loop(slot: int) -> None:
        with psycopg.connect(f"{args.pg}/{args.db}", autocommit=True) as conn:
            while time.monotonic() < stop_at:
                taken = conn.execute(statement, (node_id, batch)).fetchall()
                if not taken:
                    return
                counts[slot] += len(taken)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return round(sum(counts) / (time.perf_counter() - started), 1)


def main() -> None:
    args = parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    recreate_database(args)
    setup_django(args)
    tokens = register_nodes(args.clients)
    # Enough work that no phase runs dry: generous upper bound on the rate.
    jobs_per_phase = int(args.seconds * 12_000) + 20_000
    server = start_server(args, tokens[0])
    report = {"cpu_count": os.cpu_count(), "gunicorn": f"{args.workers}x{args.threads} gthread"}
    try:
        for batch in batches:
            reset_queue(args)
            seed_jobs(jobs_per_phase)
            report[f"batch_{batch}"] = run_phase(args, tokens, batch)
            print(json.dumps(report[f"batch_{batch}"]), flush=True)
        server.terminate()
        server.wait(timeout=30)
        for batch in batches:
            reset_queue(args)
            seed_jobs(60_000)
            report[f"raw_skip_locked_batch_{batch}_jobs_per_s"] = raw_skip_locked_rate(args, batch)
    finally:
        if server.poll() is None:
            server.terminate()
        if args.broker.startswith("redis://"):
            import redis

            redis.Redis.from_url(args.broker).flushdb()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
