"""End-to-end fault run on real processes: ``make e2e`` (not collected by pytest).

PostgreSQL (a dedicated database), a private redis-server (broker), the machine's Redis (cache,
its own db number), a Chroma server, gunicorn, a Celery worker and beat, the scripted
OpenAI-compatible server and two ``alexandria-worker`` nodes. A member submits texts through
the bot's API client; meanwhile a node is SIGKILLed mid-job, the Celery worker is SIGKILLed
mid-task and restarted, the broker is killed and restarted empty, a node submits forged
anchors and another node replays a submit. At the end every text must be analysed exactly
once, every anchor must resolve in the submitted text, texts must be purged and ``ask`` must
answer with sources. Exits non-zero on any failed check; always cleans up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "platform")]
BIN = Path(sys.executable).parent
# The interval tests/e2e/beat_app.py gives every beat entry.
BEAT_INTERVAL_S = float(os.environ.get("E2E_BEAT_INTERVAL_S", "4"))

PG_SERVER = os.environ.get("E2E_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("E2E_DATABASE", "alexandria_e2e")
CACHE_URL = os.environ.get("E2E_CACHE_URL", "redis://127.0.0.1:6379/14")
BOT_TOKEN = "e2e-bot-service-token"
MEMBER = "430000000000000001"
VOLUNTEERS = ("430000000000000011", "430000000000000012", "430000000000000013")
LEASE_TTL_S = 5
TOTAL_BUDGET_S = 540.0
COLLECTIONS = ("red", "green", "blue", "amber", "violet", "silver")
STALLED_REPLIES = 2  # the first node's first replies never come: it is killed holding them


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Service:
    """A subprocess in its own session (so a kill takes its children too), output to a log
    file and kept line by line for matching."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = logs / f"{name}.log"
        self.lines: list[str] = []
        self.starts = 0
        self.process: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        self.starts += 1
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with self.log_path.open("a") as log:
            log.write(f"--- start {self.starts}: {' '.join(self.command)}\n")
            for line in process.stdout:
                log.write(line)
                log.flush()
                self.lines.append(line.rstrip("\n"))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.lines[-lines:])


class Run:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.services: dict[str, Service] = {}
        self.crash_restarts: dict[str, int] = {}
        self.started = time.monotonic()
        self.redis_port = free_port()
        self.chroma_port = free_port()
        self.web_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ALEXANDRIA_")},
            "PYTHONUNBUFFERED": "1",
            "ALEXANDRIA_ENV": "development",
            "ALEXANDRIA_VAR_DIR": str(tmp / "var"),
            "DEBUG": "false",
            "SECRET_KEY": "e2e-secret-key-for-a-throwaway-run",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CACHE_URL": CACHE_URL,
            "CHROMA_URL": f"http://127.0.0.1:{self.chroma_port}",
            "SEARCH_COLLECTION_PREFIX": f"e2e{os.getpid()}",
            "BOT_SERVICE_TOKEN": BOT_TOKEN,
            "LEASE_MIN_SECONDS": str(LEASE_TTL_S),
            "LEASE_CHARS_PER_SECOND": "1000000",
            "REPLICATION_SAMPLE_RATE": "0",
            "VALIDATION_STALE_SECONDS": "8",
            "CHUNK_TARGET_WORDS": "40",
            "CHUNK_CONTEXT_CHARS": "120",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "alexandria.settings",
        }
        self.env.pop("LLM_BASE_URL", None)
        (tmp / "var").mkdir()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self, wanted: float) -> float:
        return max(5.0, min(wanted, TOTAL_BUDGET_S - self.elapsed()))

    def service(self, name: str, command: list[str]) -> Service:
        self.services[name] = Service(name, command, self.env, self.logs)
        return self.services[name]

    # --- infrastructure ---------------------------------------------------------------------

    def create_database(self) -> None:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')

    def drop_database(self) -> None:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    def start_redis(self) -> None:
        redis = self.services.get("redis")
        if redis is None:
            redis = self.service(
                "redis",
                ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
            )  # fmt: skip
        else:
            redis.start()
        wait_until("redis-server", lambda: port_open(self.redis_port), 20, 0.1)

    def start_infrastructure(self) -> None:
        self.create_database()
        self.start_redis()
        self.service(
            "chroma",
            [str(BIN / "chroma"), "run", "--path", str(self.tmp / "chroma"),
             "--host", "127.0.0.1", "--port", str(self.chroma_port)],
        )  # fmt: skip
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        self.service(
            "gunicorn",
            [str(BIN / "gunicorn"), "--workers", "3", "--bind", f"127.0.0.1:{self.web_port}",
             "--timeout", "120", "alexandria.wsgi:application"],
        )  # fmt: skip
        self.start_celery_worker()
        self.service(
            "beat",
            [str(BIN / "celery"), "-A", "tests.e2e.beat_app", "beat", "-l", "INFO",
             "-s", str(self.tmp / "beat-schedule")],
        )  # fmt: skip
        wait_until("chroma", lambda: port_open(self.chroma_port), 60)
        wait_until(
            "gunicorn health",
            lambda: httpx.get(f"{self.base_url}/api/v1/health", timeout=5).status_code == 200,
            60,
        )

    def start_celery_worker(self) -> None:
        worker = self.services.get("celery")
        if worker is None:
            self.service(
                "celery",
                [str(BIN / "celery"), "-A", "tasks", "worker",
                 "-Q", "default,pipeline,validation,maintenance", "--concurrency", "2",
                 "-l", "INFO", "-n", "e2e@%h", "--without-gossip", "--without-mingle"],
            )  # fmt: skip
        else:
            worker.start()

    def shutdown(self) -> None:
        for name in reversed(list(self.services)):
            with contextlib.suppress(Exception):
                self.services[name].stop()


# --- the scripted model -------------------------------------------------------------------------


def make_model():
    from jobkinds import abstract, verify_merge
    from tests.pipeline.documents import CURIE_GRAPH
    from tests.pipeline.scripted import ScriptedModel
    from tests.support.fake_openai import FakeReply

    class EveryKindModel(ScriptedModel):
        """The pipeline's scripted model, plus the layer kinds; the first replies stall."""

        stalled: int = 0

        def __call__(self, request: dict[str, Any]) -> str | FakeReply:
            system = request["messages"][0]["content"]
            if system.startswith(verify_merge.SYSTEM_PROMPT):
                reply = json.dumps({"same_meaning": True, "reason": "Both say the same."})
            elif system.startswith(abstract.PROBE_PROMPT):
                reply = json.dumps({"phase": "probe", "useless": True, "probes": []})
            elif system.startswith(abstract.COMPOSE_PROMPT):
                reply = json.dumps({"phase": "compose", "useless": True, "items": []})
            else:
                reply = super().__call__(request)
            if self.stalled < STALLED_REPLIES:
                self.stalled += 1
                return FakeReply(reply, delay=600)
            return reply

    return EveryKindModel(facts=CURIE_GRAPH)


def texts() -> dict[str, str]:
    from tests.pipeline.documents import CURIE

    return {
        f"Marie Curie ({name})": f"{CURIE} This copy belongs to the {name} collection."
        for name in COLLECTIONS
    }


# --- the run ------------------------------------------------------------------------------------


def node_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Node {token}"}


def scenario(run: Run) -> dict[str, Any]:
    import django

    os.environ.update(run.env)
    django.setup()
    from django.db.models import Count

    from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, Lease, WorkerNode
    from alexandria.jobs.moderation import set_node_trust
    from alexandria.knowledge.models import Anchor, Fact
    from alexandria.sources.models import Source
    from alexandria.textproc.fragments import anchor_verifies
    from alexandria.textproc.normalize import normalize_text, sha256_hex
    from bot.client import Actor, AlexandriaClient
    from tests.integration.conftest import WorkerProcess, worker_environment
    from tests.pipeline.scripted import KIND_NAMES
    from tests.support.fake_openai import FakeOpenAIServer

    kinds = [*KIND_NAMES, "verify_merge", "abstract", "judge_stance"]
    submitted = texts()
    member = Actor(int(MEMBER), "e2e member")

    async def register_and_submit() -> tuple[list[dict], list[dict]]:
        async with AlexandriaClient(run.base_url, BOT_TOKEN, timeout=60) as client:
            nodes = [
                await client.register_node(
                    Actor(int(discord_id), f"volunteer {n}"),
                    name=f"e2e-node-{n}",
                    capabilities={"kinds": kinds},
                )
                for n, discord_id in enumerate(VOLUNTEERS)
            ]
            sources = [
                await client.submit_text(member, text, title=title)
                for title, text in submitted.items()
            ]
            return nodes, sources

    nodes, replies = asyncio.run(register_and_submit())
    for node in nodes:
        set_node_trust(WorkerNode.objects.get(pk=node["id"]), 1.0)
    alice, bob, forger = nodes
    source_ids = [reply["source"]["id"] for reply in replies]
    assert len(set(source_ids)) == len(submitted), "every text must make its own source"
    wait_until(
        "every source planned (analysing)",
        lambda: (
            Source.objects.filter(pk__in=source_ids, status=Source.Status.ANALYSING).count()
            == len(source_ids)
        ),
        run.remaining(120),
    )
    print(f"[{run.elapsed():5.1f}s] {len(source_ids)} sources analysing", flush=True)

    # A node submits a graph whose anchors occur nowhere in the text; another node replays it.
    http = httpx.Client(base_url=f"{run.base_url}/api/v1", timeout=30)
    leased = http.post(
        "/jobs/lease",
        json={"max_jobs": 1, "kinds": ["extract_graph"]},
        headers=node_headers(forger["token"]),
    )
    assert leased.status_code == 200, leased.text
    (forged_job,) = leased.json()["jobs"]
    forged_output = {
        "entities": [{"name": "Marie Curie", "type": "person"}],
        "facts": [
            {"kind": "relation", "subject": "Marie Curie", "predicate": "invented",
             "object": "the telephone", "temporal_id": 1,
             "anchor": "Marie Curie invented the telephone in 1876"},
            {"kind": "attribute", "subject": "Marie Curie", "predicate": "born in year",
             "value": "1901", "temporal_id": 2, "anchor": "She was born in Lisbon in 1901"},
        ],
    }  # fmt: skip
    body = {"output": forged_output, "stats": {"completion_tokens": 40, "elapsed_s": 2.0}}
    submit_path = f"/leases/{forged_job['lease_id']}/submit"
    forged = http.post(submit_path, json=body, headers=node_headers(forger["token"]))
    assert forged.status_code in (200, 201, 202), forged.text
    forged_result_id = forged.json()["result_id"]
    refusals = {}
    replay = http.post(submit_path, json=body, headers=node_headers(bob["token"]))
    assert replay.status_code in (403, 404, 409), ("another node", replay.status_code, replay.text)
    refusals["another node's token"] = replay.status_code
    # The same node retrying the same submit (a lost response) gets its one result back.
    retry = http.post(submit_path, json=body, headers=node_headers(forger["token"]))
    assert retry.status_code in (200, 409), ("retry", retry.status_code, retry.text)
    if retry.status_code == 200:
        assert retry.json()["result_id"] == forged_result_id, retry.text
    refusals["same node's retry"] = retry.status_code
    results_for_lease = JobResult.objects.filter(lease_id=forged_job["lease_id"]).count()
    assert results_for_lease == 1, f"{results_for_lease} results for the forged lease"
    print(f"[{run.elapsed():5.1f}s] forged result {forged_result_id}; replays {refusals}")

    model = make_model()
    llm = FakeOpenAIServer(model, latency=0.2).start()
    # The killed node's stalled replies are written to closed sockets when the server stops.
    llm._httpd.handle_error = lambda request, client_address: None
    workers: list[WorkerProcess] = []

    def start_node(node: dict, name: str) -> WorkerProcess:
        env = worker_environment()
        command = [
            str(BIN / "alexandria-worker"), "--server", run.base_url, "--token", node["token"],
            "--llm-base-url", llm.base_url, "--poll-interval", "0.5", "--no-progress",
            "--concurrency", "2", "--prefetch", "0",
        ]  # fmt: skip
        process = WorkerProcess(command, env=env, cwd=run.tmp, after_exit=lambda: None)
        process.name = name
        workers.append(process)
        return process

    try:
        # Node A leases two jobs whose model replies stall; it dies holding both leases.
        doomed = start_node(alice, "alice")
        llm.wait_for_requests(STALLED_REPLIES, timeout=run.remaining(60))
        held = list(
            Lease.objects.filter(node_id=alice["id"], state=Lease.State.ACTIVE).values_list(
                "job_id", flat=True
            )
        )
        doomed.kill()
        print(f"[{run.elapsed():5.1f}s] SIGKILLed node alice holding jobs {held}", flush=True)
        assert held, "the killed node held no lease"
        start_node(bob, "bob")
        start_node(alice, "alice-restarted")

        # The Celery worker dies while it runs a validation.
        celery = run.services["celery"]
        seen = len(celery.lines)
        wait_until(
            "a validation task received by the Celery worker",
            lambda: any(
                "jobs.validate_results" in line and "received" in line
                for line in celery.lines[seen:]
            ),
            run.remaining(90),
            0.05,
        )
        celery.kill()
        print(f"[{run.elapsed():5.1f}s] SIGKILLed the Celery worker mid-task", flush=True)
        time.sleep(1)
        run.start_celery_worker()

        # The broker dies and comes back empty: every queued message is gone.
        wait_until(
            "results applied after the Celery restart",
            lambda: JobResult.objects.filter(status=JobResult.Status.VALID).count() >= 8,
            run.remaining(120),
        )
        run.services["redis"].kill()
        print(f"[{run.elapsed():5.1f}s] SIGKILLed redis-server (broker)", flush=True)
        time.sleep(2)
        run.start_redis()
        print(f"[{run.elapsed():5.1f}s] redis-server restarted empty", flush=True)

        quiet_since: list[float] = []

        def finished() -> bool:
            # Like compose's `restart: unless-stopped`: a Celery process that exited (kombu can
            # die on a lost broker connection) is started again.
            for name in ("celery", "beat"):
                if not run.services[name].running():
                    print(f"[{run.elapsed():5.1f}s] {name} exited; restarting it", flush=True)
                    run.crash_restarts[name] = run.crash_restarts.get(name, 0) + 1
                    run.services[name].start()
            done = Source.objects.filter(pk__in=source_ids, status=Source.Status.ANALYSED)
            open_jobs = Job.objects.exclude(status__in=(Job.Status.DONE,))
            if done.count() < len(source_ids) or open_jobs.exists():
                quiet_since.clear()
                return False
            # Beat's next tick may still build an abstraction layer on the settled items: the
            # run is finished once no tick has started new work for two beat intervals.
            if not quiet_since:
                quiet_since.append(time.monotonic())
            return time.monotonic() - quiet_since[0] > 2 * BEAT_INTERVAL_S

        try:
            wait_until("every source analysed, every job done", finished, run.remaining(360), 1)
        except AssertionError:
            states = list(Source.objects.values_list("pk", "status"))
            open_jobs = list(
                Job.objects.exclude(status=Job.Status.DONE).values_list("pk", "kind", "status")
            )
            print(f"sources {states}\nopen jobs {open_jobs}")
            raise
        print(f"[{run.elapsed():5.1f}s] every source analysed, every job done", flush=True)

        async def ask() -> dict:
            async with AlexandriaClient(run.base_url, BOT_TOKEN, timeout=60) as client:
                return await client.request(
                    "GET",
                    "ask",
                    member,
                    # Nothing is reviewed in this run: pending items are asked for.
                    params={
                        "q": "Where did Marie Curie study?",
                        "summary": "false",
                        "min_status": "pending",
                    },
                )

        answer = wait_until(
            "grounded answers from /api/v1/ask",
            lambda: (lambda body: body if body["results"] else None)(asyncio.run(ask())),
            run.remaining(120),
            2,
        )
    finally:
        for process in workers:
            if process.process.poll() is None:
                with contextlib.suppress(Exception):
                    process.stop(timeout=20)
        llm.stop()

    # --- checks -----------------------------------------------------------------------------
    failures: list[str] = []

    def check(condition: bool, message: str) -> None:
        if not condition:
            failures.append(message)

    sources = list(Source.objects.filter(pk__in=source_ids))
    originals = {
        sha256_hex(normalize_text(text)): normalize_text(text) for text in submitted.values()
    }
    for source in sources:
        check(source.status == Source.Status.ANALYSED, f"source {source.pk} is {source.status}")
        check(source.is_purged and source.text == "", f"source {source.pk} still holds its text")
        check(source.sha256 in originals, f"source {source.pk} matches no submitted text")
    jobs = list(Job.objects.all())
    for job in jobs:
        check(job.status == Job.Status.DONE, f"job {job.pk} ({job.kind}) is {job.status}")
        valid = JobResult.objects.filter(job=job, status=JobResult.Status.VALID).count()
        check(valid == 1, f"job {job.pk} ({job.kind}) has {valid} valid results")
        credits = CreditEntry.objects.filter(job=job).count()
        check(credits == 1, f"job {job.pk} ({job.kind}) credited {credits} times")
    duplicated = (
        CreditEntry.objects.values("job_id", "node_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    check(not duplicated.exists(), f"credit entries repeated: {list(duplicated)}")
    for source in sources:
        extract = Job.objects.filter(source=source, kind="extract_graph").count()
        chunks = source.chunks.count()
        check(extract == chunks, f"source {source.pk}: {extract} graph jobs for {chunks} chunks")
    facts = list(Fact.objects.select_related("anchor", "source"))
    check(bool(facts), "no fact was stored")
    for fact in facts:
        text = originals.get(fact.source.sha256, "")
        anchor = fact.anchor
        check(
            anchor_verifies(
                text,
                anchor.start,
                anchor.end,
                anchor.span_sha256,
                anchor.text_start,
                anchor.text_end,
            ),
            f"fact {fact.pk}: anchor {anchor.start}:{anchor.end} {anchor.fragment!r} does not "
            "resolve in the submitted text",
        )
    anchors = Anchor.objects.count()
    # The killed node's jobs were taken over after their leases ran out, and finished once.
    for job_id in held:
        check(
            JobEvent.objects.filter(job_id=job_id, kind=JobEvent.Kind.EXPIRED).exists()
            or Lease.objects.filter(job_id=job_id, state=Lease.State.EXPIRED).exists(),
            f"job {job_id} of the killed node was never re-leased after expiry",
        )
        lost = JobResult.objects.filter(job_id=job_id, lease__state=Lease.State.EXPIRED)
        check(not lost.exists(), f"job {job_id}: a result came in on the killed node's lease")
    forged_result = JobResult.objects.get(pk=forged_result_id)
    check(
        forged_result.status == JobResult.Status.INVALID and bool(forged_result.rejection_reasons),
        f"forged result is {forged_result.status} ({forged_result.rejection_reasons})",
    )
    check(not CreditEntry.objects.filter(node_id=forger["id"]).exists(), "the forger was credited")
    grounded = [r for r in answer["results"] if r["sources"]]
    check(bool(grounded), f"ask answered without sources: {answer}")
    for result in grounded:
        for ref in result["sources"]:
            text = originals.get(ref["source_sha256"], "")
            span = (ref["start"], ref["end"], ref["span_sha256"])
            resolves = anchor_verifies(text, *span, ref["text_start"], ref["text_end"])
            check(resolves, f"ask cites {ref} which is not in any submitted text")

    expired = JobEvent.objects.filter(kind=JobEvent.Kind.EXPIRED).count()
    summary = {
        "sources": len(sources),
        "jobs": len(jobs),
        "jobs by kind": dict(
            Job.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
        ),
        "attempts (sum)": sum(job.attempts for job in jobs),
        "leases": Lease.objects.count(),
        "re-leases (expired events)": expired,
        "expired leases": Lease.objects.filter(state=Lease.State.EXPIRED).count(),
        "rejections (invalid results)": JobResult.objects.filter(
            status=JobResult.Status.INVALID
        ).count(),
        "refused replays": refusals,
        "valid results": JobResult.objects.filter(status=JobResult.Status.VALID).count(),
        "credit entries": CreditEntry.objects.count(),
        "facts / anchors": f"{len(facts)} / {anchors}",
        "ask results (with sources)": f"{len(answer['results'])} ({len(grounded)})",
        "LLM requests": len(llm.requests),
        "celery worker starts": run.services["celery"].starts,
        "redis starts": run.services["redis"].starts,
        "restarts after a crash": run.crash_restarts,
        "elapsed s": round(run.elapsed(), 1),
    }
    return {"summary": summary, "failures": failures}


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="alexandria-e2e-"))
    run = Run(tmp)
    # SIGTERM (e.g. a CI timeout) cleans up like any failure.
    signal.signal(signal.SIGTERM, interrupt)
    outcome: dict[str, Any] | None = None
    try:
        run.start_infrastructure()
        print(f"[{run.elapsed():5.1f}s] infrastructure up (logs in {run.logs})", flush=True)
        outcome = scenario(run)
    except BaseException as exc:
        print(f"\nE2E FAILED after {run.elapsed():.0f}s: {type(exc).__name__}: {exc}")
        for name in ("celery", "beat", "gunicorn"):
            if name in run.services:
                print(f"\n--- last lines of {name} ---\n{run.services[name].tail(25)}")
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        run.shutdown()
        with contextlib.suppress(Exception):
            run.drop_database()
    if outcome is None:
        print(f"logs kept in {run.logs}")
        return 1
    width = max(map(len, outcome["summary"]))
    print("\n" + "=" * (width + 40))
    for key, value in outcome["summary"].items():
        print(f"{key:<{width}}  {value}")
    print("=" * (width + 40))
    if outcome["failures"]:
        print(f"\n{len(outcome['failures'])} FAILED CHECKS (logs in {run.logs}):")
        for failure in outcome["failures"][:50]:
            print(f"  - {failure}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("E2E PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
