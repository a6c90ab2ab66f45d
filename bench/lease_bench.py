"""Lease throughput benchmark: gunicorn + PostgreSQL, simulated nodes leasing and submitting.

Run by hand (not part of the test suite), from the repository root:

    .venv/bin/python bench/lease_bench.py --clients 64 --seconds 10

It (re)creates the database ``--db`` (default ``alexandria_bench``) on ``--pg``, migrates it,
registers one node per client, starts gunicorn with the production configuration
(``alexandria.gunicorn_config``: gthread workers, Redis cache for the throttles, Celery on
Redis for validation, whose queue is purged afterwards) and drives it from separate
load-generator processes (asyncio, raw HTTP/1.1 keep-alive, so the generator costs little of
the machine's CPU). A fresh server is first loaded for ``--warmup-seconds`` without measuring
(each gunicorn thread opens its database connection and prepares its statements on its first
calls). Then, for each protocol and batch size, it runs:

* ``saturate``: every client leases, submits what it leased, and leases again, as fast as the
  server answers (closed loop): the throughput.
* ``paced``: the same clients offer a fixed rate (``--paced-rates``, jobs/s; default the issue's
  targets, 500 at batch 1 and 2,000 at batch 16) on a schedule; latency is measured from each
  call's scheduled start, so a server falling behind shows up in the percentiles. With C
  clients in a closed loop the mean latency is C / calls-per-second (Little's law), so latency
  targets are only meaningful at an offered rate below saturation.

The bench runs no Celery, so during each phase it runs the one beat entry that leasing
depends on, ``vacuum-job-tables``, itself: the same service on the same period (PostgreSQL's
own autovacuum visits a database about once a minute, and is off on CI machines). Without it
(``--no-beat-vacuum``) the database's CPU per job grows through a phase.

Protocols: ``separate`` is POST /jobs/lease, then POST /leases/<id>/submit per job;
``exchange`` is POST /jobs/exchange carrying the previous batch's results and asking for the
next batch (one request per batch). The report gives jobs/s, lease-call latency percentiles,
double leases (from the clients' own records and from the database), and the CPU each part
used per job: gunicorn, PostgreSQL, Redis, the load generators and the whole machine. For
comparison it also measures, on the same machine, what each layer allows on its own: the
raw-SQL ``FOR UPDATE SKIP LOCKED`` dequeue rate, and the request rate of the same gunicorn
workers and load generators when the application is a fixed reply (``fixed_reply_app.py``).
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
CONTRIBUTORS = 8
OUTPUT = {"model": "ViT-B-32", "scores": [{"id": "p0", "similarity": 0.31, "keep": True}]}
STATS = {"elapsed_s": 0.01}
DEFAULT_PACED = {1: 500, 16: 2000}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="alexandria_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="broker and cache")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--protocols", default="exchange,separate")
    parser.add_argument("--modes", default="saturate,paced")
    parser.add_argument(
        "--paced-rates", default="", help="batch:jobs_per_s,... (default 1:500,16:2000)"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--load-processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--no-beat-vacuum",
        dest="beat_vacuum",
        action="store_false",
        help="don't run the vacuum-job-tables beat entry during phases",
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=3.0,
        help="unmeasured saturated exchange load after gunicorn starts (0: none)",
    )
    return parser.parse_args()


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{args.db}",
        "CELERY_BROKER_URL": f"{args.redis}/11",
        "CACHE_URL": f"{args.redis}/12",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "ERROR",
        "THROTTLE_NODE": "100000000/min",
        "THROTTLE_NODE_OWNER": "100000000/min",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
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
    from alexandria.jobs.services.nodes import register_node

    owners = [contributor_for_discord_user(f"9{i:017d}") for i in range(CONTRIBUTORS)]
    tokens = []
    for i in range(count):
        registered = register_node(
            owners[i % CONTRIBUTORS], name=f"bench-{i}", capabilities={"kinds": ["clip_score"]}
        )
        tokens.append(registered.token)
    WorkerNode.objects.update(trust=1.0)
    return tokens


def seed_jobs(args: argparse.Namespace, count: int) -> None:
    from alexandria.jobs.models import Job
    from alexandria.jobs.services.lifecycle import canonical_json

    payload = {"pairs": [{"id": "p0", "text": "a cat", "image_b64": "aGVsbG8="}]}
    size = len(canonical_json(payload))
    for start in range(0, count, 5000):
        Job.objects.bulk_create(
            Job(kind="clip_score", payload=payload, size_hint=size)
            for _ in range(min(5000, count - start))
        )
    with psycopg.connect(f"{args.pg}/{args.db}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE jobs_job")


def reset_queue(args: argparse.Namespace) -> None:
    with psycopg.connect(f"{args.pg}/{args.db}", autocommit=True) as conn:
        conn.execute(
            "TRUNCATE jobs_creditentry, jobs_jobevent, jobs_jobresult, jobs_lease, jobs_job CASCADE"
        )


def start_server(args: argparse.Namespace, token: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "alexandria.wsgi:application",
        "--config", "python:alexandria.gunicorn_config",
        "--bind", f"127.0.0.1:{args.port}",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, env=server_env(args))
    return wait_until_up(args, server, "/api/v1/nodes/me", token)


def start_fixed_reply_server(args: argparse.Namespace) -> subprocess.Popen:
    """gunicorn with the same workers as ``start_server``, serving ``fixed_reply_app``."""
    command = [
        sys.executable, "-m", "gunicorn", "fixed_reply_app:application",
        "--pythonpath", str(REPO / "bench"),
        "--worker-class", "gthread",
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--keep-alive", "30",
        "--bind", f"127.0.0.1:{args.port}",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO)
    return wait_until_up(args, server, "/", "")


def wait_until_up(args, server: subprocess.Popen, path: str, token: str) -> subprocess.Popen:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", path, headers={"Authorization": f"Node {token}"})
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not come up")


# --- load generator (runs in its own processes) ----------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for the API."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.head = (
            f"Host: 127.0.0.1\r\nAuthorization: Node {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.reader = self.writer = None

    async def post(self, path: str, body: dict) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode()
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.head, len(data), data)
        )
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.writer.close()
            self.writer = None
        return status, (json.loads(payload) if payload else {})


class SimulatedNode:
    def __init__(self, plan: dict, token: str, interval: float | None):
        self.plan, self.interval = plan, interval
        self.conn = Connection(plan["port"], token)
        self.latencies: list[float] = []
        self.leased: list[int] = []
        self.submitted = 0
        self.errors: Counter[str] = Counter()

    async def run(self, stop_at: float) -> None:
        next_at = time.perf_counter() + (random.uniform(0, self.interval) if self.interval else 0)
        pending: list[dict] = []
        while time.perf_counter() < stop_at:
            if self.interval:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                started = next_at
                next_at += self.interval
            else:
                started = time.perf_counter()
            if self.plan["protocol"] == "exchange":
                jobs = await self.exchange(pending, started)
                if jobs is not None:  # else the same results go again with the next call
                    pending = [
                        {"lease_id": job["lease_id"], "output": OUTPUT, "stats": STATS}
                        for job in jobs
                    ]
            else:
                jobs = await self.lease_then_submit(started)
            if jobs is None:
                continue
            if not jobs and not pending:
                return
        if pending:
            await self.exchange(pending, None, lease=False)

    async def exchange(self, pending, started, lease=True):
        body = {"results": pending, "max_jobs": self.plan["batch"] if lease else 0}
        status, reply = await self.conn.post("/api/v1/jobs/exchange", body)
        if started is not None:
            self.latencies.append(time.perf_counter() - started)
        if status != 200:
            self.errors[f"exchange {status}"] += 1
            return None
        for outcome in reply["results"]:
            if outcome["status"] == 200:
                self.submitted += 1
            else:
                self.errors[f"result {outcome['status']}"] += 1
        self.leased.extend(job["job_id"] for job in reply["jobs"])
        return reply["jobs"]

    async def lease_then_submit(self, started):
        status, reply = await self.conn.post("/api/v1/jobs/lease", {"max_jobs": self.plan["batch"]})
        self.latencies.append(time.perf_counter() - started)
        if status != 200:
            self.errors[f"lease {status}"] += 1
            return None
        for job in reply["jobs"]:
            self.leased.append(job["job_id"])
            status, _ = await self.conn.post(
                f"/api/v1/leases/{job['lease_id']}/submit", {"output": OUTPUT, "stats": STATS}
            )
            if status == 200:
                self.submitted += 1
            else:
                self.errors[f"submit {status}"] += 1
        return reply["jobs"]


def load_process(plan: dict, tokens: list[str], results) -> None:
    """One load generator: its share of the simulated nodes on one event loop."""
    interval = None
    if plan["rate"]:
        # Each node makes one lease (or exchange) call per interval; all nodes offer ``rate``.
        interval = plan["clients"] * plan["batch"] / plan["rate"]
    nodes = [SimulatedNode(plan, token, interval) for token in tokens]

    async def main():
        stop_at = time.perf_counter() + plan["seconds"]
        await asyncio.gather(*(node.run(stop_at) for node in nodes))

    asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.put(
        {
            "latencies": [lat for node in nodes for lat in node.latencies],
            "leased": [job for node in nodes for job in node.leased],
            "submitted": sum(node.submitted for node in nodes),
            "errors": dict(sum((node.errors for node in nodes), Counter())),
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
    )


# --- phases ----------------------------------------------------------------------------------


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (from /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by gunicorn (the master and its workers), by PostgreSQL's
    processes and by Redis, read from /proc. Processes that ended count through their parent
    (the CPU of reaped children): Django closes a database connection older than
    CONN_MAX_AGE after a request, so backends come and go within a phase."""
    ticks = os.sysconf("SC_CLK_TCK")
    processes = {}  # pid: (command, parent pid, own CPU ticks, ticks of reaped children)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                command, _, rest = stat.read().partition(" (")[2].rpartition(") ")
        except OSError:
            continue
        fields = rest.split()  # from the state on: ppid [1]; utime, stime, cutime, cstime [11:15]
        own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        processes[int(entry.name)] = (command, int(fields[1]), own, reaped)

    def tree_cpu_s(is_member) -> float:
        """The members' own CPU, and what the tree's root reaped from children that ended."""
        total = 0
        for pid, (_, parent, own, reaped) in processes.items():
            if is_member(pid):
                total += own + (0 if is_member(parent) else reaped)
        return total / ticks

    def command_is(name: str):
        return lambda pid: pid in processes and processes[pid][0] == name

    return {
        "web": tree_cpu_s(lambda pid: server_pid in (pid, processes.get(pid, ("", 0))[1])),
        "database": tree_cpu_s(command_is("postgres")),
        "redis": tree_cpu_s(command_is("redis-server")),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class BeatVacuum:
    """Runs the beat entry ``vacuum-job-tables`` in a thread of this process while a phase
    runs: what Celery beat and a worker do in a deployment."""

    def __init__(self, enabled: bool):
        from alexandria.core.beat import BEAT_SCHEDULE

        self.enabled = enabled
        self.period = BEAT_SCHEDULE["vacuum-job-tables"]["schedule"]
        self.runs: list[tuple[list[str], float]] = []  # (tables vacuumed, seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        if self.enabled:
            self._thread.join()

    def _run(self) -> None:
        from django.db import connection

        from alexandria.jobs.services.maintenance import vacuum_job_tables

        try:
            while not self._stop.wait(self.period):
                started = time.perf_counter()
                tables = vacuum_job_tables()
                self.runs.append((tables, time.perf_counter() - started))
        finally:
            connection.close()

    def summary(self) -> dict:
        vacuums = [seconds for tables, seconds in self.runs if tables]
        return {"vacuums": len(vacuums), "vacuum_ms": round(1000 * sum(vacuums))}


def run_phase(
    args, server, tokens: list[str], protocol: str, batch: int, rate: float | None
) -> dict:
    plan = {
        "port": args.port,
        "protocol": protocol,
        "batch": batch,
        "rate": rate,
        "clients": args.clients,
        "seconds": args.seconds,
    }
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    share = [tokens[i :: args.load_processes] for i in range(args.load_processes)]
    workers = [
        context.Process(target=load_process, args=(plan, part, results)) for part in share if part
    ]
    cpu_before = process_cpu_s(server.pid)
    busy_before, started = machine_busy_s(), time.perf_counter()
    with BeatVacuum(args.beat_vacuum) as beat_vacuum:
        for worker in workers:
            worker.start()
        parts = [results.get(timeout=args.seconds + 120) for _ in workers]
    elapsed = time.perf_counter() - started
    busy = machine_busy_s() - busy_before
    cpu = {part: used - cpu_before[part] for part, used in process_cpu_s(server.pid).items()}
    for worker in workers:
        worker.join()
    leased = [job for part in parts for job in part["leased"]]
    latencies = [lat for part in parts for lat in part["latencies"]]
    submitted = sum(part["submitted"] for part in parts)
    with psycopg.connect(f"{args.pg}/{args.db}") as conn:
        db_doubles = conn.execute(
            "SELECT count(*) FROM (SELECT job_id FROM jobs_lease GROUP BY job_id "
            "HAVING count(*) > 1) AS doubled"
        ).fetchone()[0]
    load_cpu = sum(part["cpu_s"] for part in parts)
    cpu_ms_per_job = {
        part: round(1000 * used / max(submitted, 1), 2)
        for part, used in {**cpu, "load_generator": load_cpu, "machine": busy}.items()
    }
    return {
        "protocol": protocol,
        "batch": batch,
        "mode": "paced" if rate else "saturate",
        "offered_jobs_per_s": rate,
        "clients": args.clients,
        "seconds": round(elapsed, 2),
        "jobs_leased": len(leased),
        "jobs_submitted": submitted,
        "jobs_per_s": round(submitted / elapsed, 1),
        "lease_calls": len(latencies),
        "lease_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "lease_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "lease_max_ms": round(max(latencies, default=0) * 1000, 2),
        "double_leases_seen_by_clients": sum(1 for n in Counter(leased).values() if n > 1),
        "double_leases_in_db": db_doubles,
        "load_generator_cores": round(load_cpu / elapsed, 2),
        "machine_cores_busy": round(busy / elapsed, 2),
        "cpu_ms_per_job": cpu_ms_per_job,
        "job_tables": beat_vacuum.summary(),
        "errors": dict(sum((Counter(part["errors"]) for part in parts), Counter())),
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


def warm_up(args, server, tokens: list[str]) -> None:
    """Load a fresh server before measuring: each gunicorn thread's first calls open its
    database connection and prepare its statements (tens of milliseconds), which a server
    that has been up for a while no longer pays. Measured from a cold start, a light paced
    phase had p99 35 ms where the same phase, run next, had 10 ms."""
    if args.warmup_seconds <= 0:
        return
    reset_queue(args)
    seed_jobs(args, int(args.warmup_seconds * 8_000) + 5_000)
    run_phase(
        argparse.Namespace(**{**vars(args), "seconds": args.warmup_seconds}),
        server, tokens, "exchange", 1, None,
    )  # fmt: skip


def server_setting(args, name: str) -> str:
    with psycopg.connect(f"{args.pg}/{args.db}") as conn:
        return conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0]


def paced_rates(args) -> dict[int, float]:
    rates = dict(DEFAULT_PACED)
    for item in filter(None, args.paced_rates.split(",")):
        batch, _, rate = item.partition(":")
        rates[int(batch)] = float(rate)
    return rates


def main() -> None:
    args = parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    protocols = args.protocols.split(",")
    modes = args.modes.split(",")
    rates = paced_rates(args)
    recreate_database(args)
    setup_django(args)
    tokens = register_nodes(args.clients)
    # Enough work that no phase runs dry: a generous upper bound on the rate.
    jobs_per_phase = int(args.seconds * 8_000) + 20_000
    server = start_server(args, tokens[0])
    warm_up(args, server, tokens)
    report = {
        "cpu_count": os.cpu_count(),
        "gunicorn": f"{args.workers} gthread workers x {args.threads} threads",
        "server_autovacuum": server_setting(args, "autovacuum"),
        "phases": [],
    }
    try:
        for protocol in protocols:
            for batch in batches:
                for mode in modes:
                    reset_queue(args)
                    seed_jobs(args, jobs_per_phase)
                    rate = rates.get(batch) if mode == "paced" else None
                    phase = run_phase(args, server, tokens, protocol, batch, rate)
                    report["phases"].append(phase)
                    print(json.dumps(phase), flush=True)
        server.terminate()
        server.wait(timeout=30)
        server = start_fixed_reply_server(args)
        phase = run_phase(args, server, tokens, "exchange", 1, None)
        report["fixed_reply_http_only"] = {  # one call per job, as at batch 1
            "calls_per_s": phase["jobs_per_s"],
            "call_p50_ms": phase["lease_p50_ms"],
            "call_p99_ms": phase["lease_p99_ms"],
            "cpu_ms_per_call": phase["cpu_ms_per_job"],
        }
        server.terminate()
        server.wait(timeout=30)
        for batch in batches:
            reset_queue(args)
            seed_jobs(args, 60_000)
            report[f"raw_skip_locked_batch_{batch}_jobs_per_s"] = raw_skip_locked_rate(args, batch)
    finally:
        if server.poll() is None:
            server.terminate()
        import redis

        redis.Redis.from_url(f"{args.redis}/11").flushdb()
        redis.Redis.from_url(f"{args.redis}/12").flushdb()
    print(json.dumps({k: v for k, v in report.items() if k != "phases"}, indent=2))


if __name__ == "__main__":
    main()
