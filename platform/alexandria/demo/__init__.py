"""``alexandria demo``: the whole main job, end to end, on the embedded defaults.

One process hosts the API (SQLite, eager Celery, Chroma on disk, which is safe because only this
process touches it) and plays Celery beat; a real ``alexandria-worker`` runs beside it as a
volunteer would, against the bundled SmolLM2-135M (``--local``) or any OpenAI-compatible
server. The sample texts in this folder were written for the project; ``--texts DIR`` runs it
on your own ``.md``/``.txt``/``.html``/``.pdf`` files instead. When no job finishes for
``--stall-after`` seconds it says what the node last reported; Ctrl-C stops the node and the
API cleanly.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from alexandria.demo.texts import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    TEXT_TYPES,
    WORKER_EXITS,
    DemoInputError,
    demo_texts,
    node_report,
)
from alexandria.textproc.extract import extract_text
from alexandria.textproc.fragments import anchor_verifies
from alexandria.textproc.item_quality import item_problems
from alexandria.textproc.normalize import sha256_hex
from jobkinds import all_kinds
from worker.local_llm import LOCAL_CONTEXT_TOKENS

DEMO_NODE = "demo-node"
DEMO_MEMBER = "100000000000000042"
DEFAULT_QUESTION = "What affects sleep quality?"
SCHEDULE_EVERY_S = 10.0
PROGRESS_EVERY_S = 3.0


def _say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _prepare_environment(var_dir: Path, bot_token: str) -> None:
    """Embedded defaults only: whatever the shell has configured must not leak into the demo."""
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CHROMA_URL", "CACHE_URL", "LLM_BASE_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "ALEXANDRIA_ENV": "development",
            "ALEXANDRIA_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "alexandria.settings",
            "BOT_SERVICE_TOKEN": bot_token,
            "HF_HUB_OFFLINE": "1",
            "THROTTLE_SUBMIT": "1000/min",
            "LOG_LEVEL": "WARNING",  # progress lines, not request logs
            # The organiser's lone node has no other contributor to be checked against, so
            # its results are not replicated; validation still rejects what isn't grounded.
            "TRUST_THRESHOLD": "0",
            "REPLICATION_SAMPLE_RATE": "0",
        }
    )


def _serve_api() -> tuple[str, Any]:
    """Serve the API from a thread of this process; returns its base URL and the server."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):
            return

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, name="demo-api", daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _submit_samples(client, paths: list[Path], own: bool) -> dict[int, str]:
    """Upload each text as a member would; returns source id → normalised text."""
    sources = {}
    for path in paths:
        data = path.read_bytes()
        response = client.post(
            "/api/v1/sources",
            files={"file": (path.name, data, TEXT_TYPES[path.suffix.lower()])},
            data={
                "url": f"https://alexandria.example/{'texts' if own else 'demo'}/{path.stem}",
                "licence_note": (
                    "the user's own text, analysed on their machine by the local demo"
                    if own
                    else "CC BY 4.0; written for the Alexandria demo"
                ),
                "language": "en",
            },
        )
        if response.status_code == 400:
            raise DemoInputError(f"{path}: {response.json().get('detail', response.text)}")
        response.raise_for_status()
        source = response.json()["source"]
        sources[source["id"]] = extract_text(data, content_type=None, filename=path.name).text
        # Uploads are extracted off the request path: the answer comes before the text.
        _say(f"submitted #{source['id']} {path.name!r} ({len(data)} bytes, {source['status']})")
    return sources


def _register_node(client) -> str:
    """Register the organiser's own node, as a member does with /volunteer."""
    kinds = [kind.name for kind in all_kinds() if kind.runner == "llm"]
    response = client.post(
        "/api/v1/nodes",
        json={
            "name": DEMO_NODE,
            "capabilities": {
                "kinds": kinds,
                "models": ["SmolLM2-135M-Instruct"],
                "max_context_tokens": LOCAL_CONTEXT_TOKENS,
                "gpu": "none (CPU)",
            },
        },
    )
    response.raise_for_status()
    node = response.json()
    _say(f"registered node {node['name']!r} for job kinds: {', '.join(kinds)}")
    return node["token"]


def _start_worker(args, api_url: str, token: str, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "worker.cli",
        "--server",
        api_url,
        "--token",
        token,
        "--concurrency",
        str(args.concurrency),
        "--no-progress",
    ]
    if args.llm_base_url:
        command += ["--llm-base-url", args.llm_base_url, "--model", args.model]
        if args.api_key:
            command += ["--api-key", args.api_key]
    else:
        command.append("--local")
    _say(
        f"starting the volunteer node: alexandria-worker {' '.join(command[3:5])} … "
        f"(log: {log_path})"
    )
    log = log_path.open("w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def _progress() -> tuple[str, bool]:
    """A one-line summary of the pipeline and whether any work is still outstanding."""
    # Models import only after django.setup(), which run_demo calls once the demo's own
    # environment is in place; so do the other Django imports in this module.
    from django.db.models import Count

    from alexandria.jobs.models import Job
    from alexandria.knowledge.models import Fact, KnowledgeItem
    from alexandria.sources.models import Source

    sources = dict(Source.objects.values_list("status").annotate(n=Count("id")))
    jobs = dict(Job.objects.values_list("status").annotate(n=Count("id")))
    layers = dict(
        KnowledgeItem.objects.filter(merged_into__isnull=True)
        .values_list("layer")
        .annotate(n=Count("id"))
    )
    open_jobs = sum(jobs.get(s, 0) for s in ("queued", "leased", "validating"))
    line = (
        "sources "
        + ", ".join(f"{n} {status}" for status, n in sorted(sources.items()))
        + " | jobs "
        + ", ".join(f"{n} {status}" for status, n in sorted(jobs.items()))
        + f" | facts {Fact.objects.count()}"
        + " | items "
        + (", ".join(f"L{layer}: {n}" for layer, n in sorted(layers.items())) or "none yet")
    )
    unfinished = any(status != Source.Status.ANALYSED for status in sources) or open_jobs > 0
    return line, unfinished


def _jobs_done() -> int:
    from alexandria.jobs.models import Job  # after django.setup()

    return Job.objects.filter(status=Job.Status.DONE).count()


def _run_scheduled_tasks() -> None:
    from alexandria.core.beat import run_scheduled_tasks_once  # after django.setup()

    run_scheduled_tasks_once()


def _listed(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item the answer shows, each with its own citations: the matched item, its
    arguments pro and contra, related items and instructions."""
    listed = []
    for result in answer["results"]:
        listed.append({**result["item"], "sources": result["sources"]})
        for group in ("pro", "contra", "related", "instructions"):
            listed.extend(result.get(group, []))
    return listed


def _check_grounding(answer: dict[str, Any], originals: dict[int, str]) -> int:
    """Every cited passage must resolve in the original: its offsets hold text hashing to the
    span's SHA-256, and the words kept are that span's ends (the texts are purged by now: the
    demo still holds its own copy of what it submitted)."""
    checked = 0
    for item in _listed(answer):
        if not item["sources"]:
            raise SystemExit(f"item #{item['id']} is shown without citations")
        for source in item["sources"]:
            text = originals[source["source_id"]]
            if sha256_hex(text) != source["source_sha256"] or not anchor_verifies(
                text,
                source["start"],
                source["end"],
                source["span_sha256"],
                source["text_start"],
                source["text_end"],
            ):
                raise SystemExit(f"grounding broken: {source} does not resolve in its source")
            checked += 1
    return checked


def _check_quality(answer: dict[str, Any]) -> int:
    """Every item shown passes the quality gate every stored item must pass (a statement, or a
    goal with steps; no markup, heading or truncated text): the gate runs before storage, so
    this holds unless something bypassed it."""
    from alexandria.knowledge.models import KnowledgeItem  # after django.setup()

    ids = {item["id"] for item in _listed(answer)}
    for item in KnowledgeItem.objects.filter(pk__in=ids):
        steps = item.details.get("steps", []) if isinstance(item.details, dict) else []
        problems = item_problems(item.kind, item.text, steps=steps)
        if problems:
            raise SystemExit(f"item #{item.pk} fails the quality gate: {problems[0].message}")
    return len(ids)


def run_demo(args: argparse.Namespace) -> int:
    try:
        texts = demo_texts(args.texts)
        if args.texts is not None and args.question is None:
            raise DemoInputError("--texts needs --question: what should the demo ask your texts?")
    except DemoInputError as exc:
        print(f"alexandria demo: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args.question = args.question or DEFAULT_QUESTION
    try:
        return _run_demo(args, texts)
    except DemoInputError as exc:
        print(f"alexandria demo: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _say("interrupted: the node and the API server are stopped")
        return EXIT_INTERRUPTED


def start_embedded_api(var_dir: Path, bot_token: str) -> tuple[str, Any]:
    """A fresh embedded platform under ``var_dir`` (wiped first), migrated, its API served from
    a thread of this process: the API's base URL and its server (shut it down when done)."""
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    _prepare_environment(var_dir, bot_token)

    import django

    django.setup()
    from django.core.management import call_command

    _say(f"embedded defaults: SQLite, Chroma and logs under {var_dir}; Celery runs eagerly")
    call_command("migrate", verbosity=0)
    api_url, server = _serve_api()
    _say(f"API listening on {api_url}/api/v1/ (schema: {api_url}/api/v1/docs)")
    return api_url, server


def member_client(api_url: str, bot_token: str):
    """An HTTP client acting as the demo's member through the bot's service token."""
    import httpx

    headers = {
        "Authorization": f"Bot {bot_token}",
        "X-Discord-User": DEMO_MEMBER,
        "X-Discord-Name": "demo member",
    }
    return httpx.Client(base_url=api_url, headers=headers, timeout=300)


def run_node_until_idle(args: argparse.Namespace, client, api_url: str, log_path: Path) -> None:
    """Register the organiser's node, run it until nothing is outstanding across two rounds of
    scheduled tasks (or ``args.timeout``), playing beat meanwhile, then stop it.

    ``args`` carries the node's options (``llm_base_url``, ``model``, ``api_key``,
    ``concurrency``) and ``timeout``, ``stall_after``."""
    token = _register_node(client)
    worker = _start_worker(args, api_url, token, log_path)
    try:
        deadline = time.monotonic() + args.timeout
        last_line, last_schedule, quiet_ticks = "", 0.0, 0
        done, progressed_at = 0, time.monotonic()
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                meaning = WORKER_EXITS.get(worker.returncode, "see its log")
                raise SystemExit(
                    f"the node stopped (exit status {worker.returncode}): {meaning}\n"
                    f"{node_report(DEMO_NODE, log_path)}\nlog: {log_path}"
                )
            if (finished := _jobs_done()) > done:
                done, progressed_at = finished, time.monotonic()
            elif time.monotonic() - progressed_at > args.stall_after:
                _say(
                    f"no job finished in {args.stall_after:.0f} s; "
                    f"{node_report(DEMO_NODE, log_path)}\n  (log: {log_path})"
                )
                progressed_at = time.monotonic()
            if time.monotonic() - last_schedule > SCHEDULE_EVERY_S:
                _run_scheduled_tasks()
                last_schedule = time.monotonic()
            line, unfinished = _progress()
            if line != last_line:
                _say(line)
                last_line = line
            quiet_ticks = 0 if unfinished else quiet_ticks + 1
            # Done once nothing is outstanding across two rounds of scheduled tasks.
            if quiet_ticks * PROGRESS_EVERY_S > 2 * SCHEDULE_EVERY_S:
                return
            time.sleep(PROGRESS_EVERY_S)
        _say(f"stopped waiting after {args.timeout:.0f} s; answering with what is stored")
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


def _run_demo(args: argparse.Namespace, texts: list[Path]) -> int:
    var_dir = Path(args.var_dir).resolve()
    bot_token = secrets.token_urlsafe(24)
    api_url, server = start_embedded_api(var_dir, bot_token)
    # After django.setup(): these import models.
    from alexandria.cli import format_answer
    from alexandria.releases.selectors import Slice
    from alexandria.releases.services import write_release
    from alexandria.retention.audit import audit_retention
    from alexandria.sources.models import Source

    try:
        with member_client(api_url, bot_token) as client:
            originals = _submit_samples(client, texts, own=args.texts is not None)
            run_node_until_idle(args, client, api_url, var_dir / "worker.log")
            purged = Source.objects.filter(text_purged_at__isnull=False).count()
            _say(f"{purged} of {len(originals)} source texts purged after analysis")
            response = client.get(
                "/api/v1/ask", params={"q": args.question, "min_status": "pending"}
            )
            response.raise_for_status()
            answer = response.json()
    finally:
        server.shutdown()
    print()
    print(format_answer(answer))
    if not answer["results"]:
        _say(
            "no grounded answer: the model produced no item that passed validation "
            f"(see {var_dir / 'worker.log'}); a larger model does much better"
        )
        return 1
    checked = _check_grounding(answer, originals)
    _say(f"all {checked} cited passages resolve to the exact characters of their sources")
    _say(f"all {_check_quality(answer)} items shown pass the quality gate")
    # Copyright retention, checked as `alexandria audit-retention` does: nothing stored (every
    # table's text columns, Chroma's documents) repeats 12+ words of a purged source.
    report = audit_retention()
    if not report.clean:
        print("\n".join(report.lines()))
        return 1
    lines = report.lines()
    _say(f"{lines[0]} {lines[-1]}")
    # Nobody reviewed the demo's items: its release holds the pending ones, so labelled in the
    # card (`alexandria release` alone publishes accepted items only).
    release = write_release(Slice(include_pending=True))
    _say(
        f"dataset release {release.release_id}: "
        + ", ".join(f"{name} {c['rows']}" for name, c in release.counts.items())
        + f" rows; Parquet, dataset card and manifest in {release.path}"
    )
    # The public web on this data; nobody reviewed the demo's items, so ask for pending ones.
    query = urlencode({"q": args.question, "min_status": "pending"})
    _say(
        f"serve the web on this data: .venv/bin/alexandria serve --var-dir {args.var_dir}\n"
        f"  then open http://127.0.0.1:8000/?{query}\n"
        f"  or: curl 'http://127.0.0.1:8000/api/v1/public/search?{query}'"
    )
    return 0


def add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="Run the whole pipeline end to end on embedded defaults."
    )
    parser.add_argument(
        "--texts",
        default=None,
        metavar="DIR",
        help="Analyse your own .md/.txt/.html/.pdf files in DIR instead of the samples.",
    )
    parser.add_argument(
        "--question",
        default=None,
        help=f"What to ask (needed with --texts; default: {DEFAULT_QUESTION!r}).",
    )
    parser.add_argument(
        "--stall-after",
        type=float,
        default=180,
        help="Say what the node reports when no job finished for this many seconds.",
    )
    parser.add_argument("--var-dir", default=os.path.join("var", "demo"))
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds to wait at most.")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--llm-base-url",
        default="",
        help="Use this OpenAI-compatible server instead of the bundled SmolLM2-135M.",
    )
    parser.add_argument("--model", default="", help="Model name on --llm-base-url.")
    parser.add_argument("--api-key", default="", help="API key for --llm-base-url.")
    parser.set_defaults(handler=run_demo)
