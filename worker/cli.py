"""``alexandria-worker``: run a volunteer node against an Alexandria backend.

Exit codes: 0 normal stop, 1 unexpected error, 2 bad configuration, 3 node token refused,
4 the local model server (``--local``) kept crashing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from jobkinds import CAPABLE, CONTRACTS, TINY, JobKind, UnknownKindError, all_kinds, get_kind
from worker.api import AuthRefusedError, BackendClient, BackendError
from worker.clip import ClipRunner
from worker.llm import LLMRunner
from worker.local_llm import (
    LOCAL_MODEL_NAME,
    LocalModelError,
    LocalModelServer,
    ModelServerGaveUpError,
    SupervisionPolicy,
    start_local_model,
)
from worker.progress import configure_logging, live_view, wants_live_view
from worker.results import JobRunner, RunnerUnavailableError
from worker.runtime import NodeRuntime, RuntimeConfig

log = logging.getLogger("worker")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_MODEL = 4

MAX_BATCH = 64


class ConfigError(Exception):
    """The command line or environment does not describe a node that can run."""


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="alexandria-worker",
        description="Lend your machine to Alexandria: lease jobs, run them on a local model, "
        "hand the results back.",
    )
    parser.add_argument(
        "--server",
        default=env("ALEXANDRIA_SERVER"),
        help="backend base URL, e.g. https://alexandria.example [ALEXANDRIA_SERVER]",
    )
    parser.add_argument(
        "--token",
        default=env("ALEXANDRIA_NODE_TOKEN"),
        help="this node's token [ALEXANDRIA_NODE_TOKEN]",
    )
    parser.add_argument(
        "--llm-base-url",
        default=env("ALEXANDRIA_LLM_BASE_URL", "http://127.0.0.1:8080/v1"),
        help="OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI) "
        "[ALEXANDRIA_LLM_BASE_URL, default %(default)s]",
    )
    parser.add_argument(
        "--model",
        default=env("ALEXANDRIA_LLM_MODEL"),
        help="model name; default: the first one the server lists [ALEXANDRIA_LLM_MODEL]",
    )
    parser.add_argument(
        "--api-key",
        default=env("ALEXANDRIA_LLM_API_KEY", "none"),
        help="API key for the LLM server [ALEXANDRIA_LLM_API_KEY]",
    )
    parser.add_argument(
        "--model-class",
        choices=CONTRACTS,
        default=env("ALEXANDRIA_MODEL_CLASS", TINY),
        help="what the model can do: tiny (up to a few billion parameters: grammar-narrowed "
        "output, a handful of facts per chunk) or capable (follows long instructions: the full "
        "output, as many facts as a chunk holds) [ALEXANDRIA_MODEL_CLASS, default %(default)s]",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="jobs run at the same time (default %(default)s)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help=f"most jobs per lease request, 1..{MAX_BATCH} (default: concurrency)",
    )
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help="jobs leased ahead of free slots, so a finished job is followed at once "
        "(default: batch; 0 leases only for free slots)",
    )
    parser.add_argument(
        "--kinds",
        default=None,
        help="comma-separated job kinds to accept (default: all this node can run)",
    )
    parser.add_argument("--once", action="store_true", help="lease one batch, run it, and exit")
    parser.add_argument(
        "--local",
        action="store_true",
        help="serve the bundled SmolLM2-135M model with llama.cpp and use it",
    )
    parser.add_argument(
        "--model-max-crashes",
        type=int,
        default=5,
        help="--local: give up (exit 4) when the model server crashed this often within "
        "--model-crash-window (default %(default)s)",
    )
    parser.add_argument(
        "--model-crash-window",
        type=float,
        default=600.0,
        help="--local: seconds over which model server crashes are counted (default %(default)s)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        help="seconds between lease requests when there is nothing to do",
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=10.0,
        help="seconds running jobs get to finish on shutdown before their "
        "leases are given back (default %(default)s)",
    )
    parser.add_argument(
        "--clip-pretrained",
        default=env("ALEXANDRIA_CLIP_PRETRAINED"),
        help="open_clip pretrained tag or weights file for clip jobs; clip_embed results count "
        "only with the server's weights, e.g. the same LAION checkpoint file "
        "[ALEXANDRIA_CLIP_PRETRAINED]",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="log lines instead of the live progress view"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


@dataclass(frozen=True)
class NodeSettings:
    server: str
    token: str
    llm_base_url: str
    model: str | None
    api_key: str
    model_class: str
    kinds: list[JobKind]
    runtime: RuntimeConfig
    clip_pretrained: str | None
    no_progress: bool
    supervision: SupervisionPolicy


def settings_from_args(args: argparse.Namespace) -> NodeSettings:
    """Check the arguments and pick the kinds this node will lease."""
    if not args.server:
        raise ConfigError("no backend: pass --server or set ALEXANDRIA_SERVER")
    if not args.server.startswith(("http://", "https://")):
        raise ConfigError(f"--server must be an http(s) URL, not {args.server!r}")
    if not args.token:
        raise ConfigError("no node token: pass --token or set ALEXANDRIA_NODE_TOKEN")
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if args.model_class not in CONTRACTS:  # from the environment: argparse checks the flag
        raise ConfigError(f"--model-class must be one of {', '.join(CONTRACTS)}")
    if args.local and args.model_class == CAPABLE:
        raise ConfigError("--local serves SmolLM2-135M, a tiny model: drop --model-class capable")
    batch = min(args.concurrency, MAX_BATCH) if args.batch is None else args.batch
    prefetch = batch if args.prefetch is None else args.prefetch
    if prefetch < 0:
        raise ConfigError("--prefetch must not be negative")
    if not 1 <= batch <= MAX_BATCH:
        raise ConfigError(f"--batch must be between 1 and {MAX_BATCH}")
    if args.poll_interval <= 0 or args.grace_period < 0:
        raise ConfigError("--poll-interval must be positive and --grace-period not negative")
    if args.model_max_crashes < 1 or args.model_crash_window <= 0:
        raise ConfigError(
            "--model-max-crashes must be at least 1 and --model-crash-window positive"
        )
    return NodeSettings(
        server=args.server,
        token=args.token,
        llm_base_url=args.llm_base_url,
        model=args.model,
        api_key=args.api_key,
        model_class=args.model_class,
        kinds=select_kinds(args.kinds),
        runtime=RuntimeConfig(
            concurrency=args.concurrency,
            prefetch=prefetch,
            batch=batch,
            once=args.once,
            poll_interval=args.poll_interval,
            grace_period=args.grace_period,
        ),
        clip_pretrained=args.clip_pretrained,
        no_progress=args.no_progress,
        supervision=SupervisionPolicy(
            max_crashes=args.model_max_crashes, window_s=args.model_crash_window
        ),
    )


def select_kinds(requested: str | None) -> list[JobKind]:
    """The asked-for kinds (all registered ones by default) whose runner is installed here."""
    clip_installed = importlib.util.find_spec("open_clip") is not None
    if requested:
        try:
            kinds = [get_kind(name.strip()) for name in requested.split(",") if name.strip()]
        except UnknownKindError as exc:
            known = ", ".join(kind.name for kind in all_kinds())
            raise ConfigError(f"unknown job kind {exc.args[0]!r} (known: {known})") from None
        missing_clip = [kind.name for kind in kinds if kind.runner == "clip" and not clip_installed]
        if missing_clip:
            raise ConfigError(
                f"{', '.join(missing_clip)} need open_clip: pip install 'alexandria[clip]'"
            )
    else:
        kinds = [kind for kind in all_kinds() if kind.runner != "clip" or clip_installed]
    if not kinds:
        raise ConfigError(
            "no job kinds this node can run (clip kinds need pip install 'alexandria[clip]')"
        )
    return kinds


async def serve(
    settings: NodeSettings, console: Console | None, local: LocalModelServer | None = None
) -> int:
    async with BackendClient(settings.server, settings.token) as backend:
        try:
            node = await backend.me()
        except AuthRefusedError as exc:
            log.error("the backend refused this node's token: %s", exc)
            return EXIT_AUTH
        except BackendError as exc:
            log.error("cannot reach the backend at %s: %s", settings.server, exc)
            return EXIT_CONFIG
        log.info("node %s (#%s) connected to %s", node.get("name"), node.get("id"), settings.server)
        try:
            await declare_model_class(backend, node, settings.model_class)
        except AuthRefusedError as exc:
            log.error("the backend refused this node's token: %s", exc)
            return EXIT_AUTH

        runners: dict[str, JobRunner] = {}
        try:
            if any(kind.runner == "llm" for kind in settings.kinds):
                llm = LLMRunner(
                    settings.llm_base_url, api_key=settings.api_key, model=settings.model
                )
                runners["llm"] = llm
                try:
                    model = await llm.check_server()
                except RunnerUnavailableError as exc:
                    log.error("LLM server %s: %s", settings.llm_base_url, exc)
                    return EXIT_CONFIG
                log.info("LLM %s at %s", model, settings.llm_base_url)
            if any(kind.runner == "clip" for kind in settings.kinds):
                runners["clip"] = ClipRunner(pretrained=settings.clip_pretrained)
            log.info("accepting %s", ", ".join(kind.name for kind in settings.kinds))

            runtime = NodeRuntime(backend, runners, settings.kinds, settings.runtime)
            install_signal_handlers(runtime)
            live = live_view(runtime, settings.server, console) if console else None
            supervisor = None if local is None else asyncio.create_task(supervise(local, runtime))
            try:
                with live or contextlib.nullcontext():
                    await runtime.run()
            except AuthRefusedError as exc:
                log.error("the backend refused this node's token: %s", exc)
                return EXIT_AUTH
            finally:
                if supervisor is not None:
                    supervisor.cancel()
            gave_up = None if supervisor is None else _gave_up(supervisor)
            stats = runtime.stats
            log.info(
                "stopped: %d done, %d failed, %d released, %d dropped, %d tokens",
                stats.done,
                stats.failed,
                stats.released,
                stats.dropped,
                stats.prompt_tokens + stats.completion_tokens,
            )
            if gave_up is not None:
                await runtime.report_status("stopped", str(gave_up))
                log.error("%s; the node stops (exit %d)", gave_up, EXIT_MODEL)
                return EXIT_MODEL
            return EXIT_OK
        finally:
            for runner in runners.values():
                await runner.aclose()


async def declare_model_class(backend: BackendClient, node: dict, model_class: str) -> None:
    """Store the node's model class with its capabilities where the backend has another one;
    the jobs it leases then name the output contract their results must meet."""
    stored = (node.get("capabilities") or {}).get("model_class", TINY)
    if stored != model_class:
        try:
            await backend.declare_model_class(model_class)
        except AuthRefusedError:
            raise
        except BackendError as exc:
            log.warning(
                "the backend did not take model class %s (%s); jobs say which contract applies",
                model_class,
                exc,
            )
            return
    log.info("model class %s", model_class)


async def supervise(local: LocalModelServer, runtime: NodeRuntime) -> None:
    """Keep the local model server running; stop the node when it keeps crashing."""

    def on_crash(message: str) -> None:  # the breaker learns why before a job finds out
        runtime.pause("llm", message, override=True)

    try:
        await local.supervise(on_crash)
    except ModelServerGaveUpError:
        runtime.request_shutdown(immediate=True)
        raise


def _gave_up(supervisor: asyncio.Task[None]) -> ModelServerGaveUpError | None:
    if supervisor.done() and not supervisor.cancelled():
        error = supervisor.exception()
        if isinstance(error, ModelServerGaveUpError):
            return error
    return None


def install_signal_handlers(runtime: NodeRuntime) -> None:
    """First SIGINT/SIGTERM: graceful stop; a second one skips the grace period."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        runtime.request_shutdown(immediate=runtime.stopping)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
        except NotImplementedError:  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(on_signal))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"alexandria-worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    console = Console(stderr=True) if wants_live_view(settings.no_progress) else None
    configure_logging(logging.DEBUG if args.verbose else logging.INFO, console)

    local: LocalModelServer | None = None
    try:
        if args.local:
            try:
                local = start_local_model(settings.supervision)
            except LocalModelError as exc:
                print(f"alexandria-worker: {exc}", file=sys.stderr)
                return EXIT_CONFIG
            settings = dataclasses.replace(
                settings, llm_base_url=local.base_url, model=settings.model or LOCAL_MODEL_NAME
            )
        return asyncio.run(serve(settings, console, local))
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        if local is not None:
            local.stop()


if __name__ == "__main__":
    sys.exit(main())
