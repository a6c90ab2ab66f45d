"""Live terminal view of a running node (rich), or plain log lines when that makes no sense."""

from __future__ import annotations

import logging
import sys
import time

from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from worker.runtime import NodeRuntime

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_LEASE_ROWS = 12


def wants_live_view(no_progress: bool) -> bool:
    return not no_progress and sys.stderr.isatty()


def configure_logging(level: int, console: Console | None) -> None:
    """Logs go above the live view when there is one, else to stderr as timestamped lines."""
    handler: logging.Handler
    if console is not None:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("httpx", "httpx2", "openai"):  # one line per HTTP request otherwise
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))


class NodeView:
    """Renders the runtime's counters and current leases each time rich refreshes."""

    def __init__(self, runtime: NodeRuntime, server: str) -> None:
        self.runtime = runtime
        self.server = server

    def __rich__(self) -> Group:
        stats = self.runtime.stats
        paused = "; ".join(pause.reason for pause in self.runtime.paused.values())
        if self.runtime.stopping:
            state, colour = "stopping", "yellow"
        elif paused:
            state, colour = f"paused: {paused}", "red"
        else:
            state, colour = "working", "green"
        summary = Text.assemble(
            (f"alexandria-worker → {self.server}  ", "bold"),
            (state, colour),
            f"   done {stats.done}   failed {stats.failed}   released {stats.released}"
            f"   dropped {stats.dropped}   {stats.tokens_per_second():.1f} tok/s"
            f"   tokens {stats.prompt_tokens}+{stats.completion_tokens}",
        )
        leases = Table("job", "kind", "running for", "lease", box=None, header_style="dim")
        now = time.monotonic()
        jobs = list(self.runtime.active.values())
        for job in jobs[:MAX_LEASE_ROWS]:
            leases.add_row(
                str(job.lease.job_id),
                job.lease.kind,
                "waiting" if job.started_at is None else f"{now - job.started_at:.1f}s",
                job.lease.lease_id[:8],
            )
        if len(jobs) > MAX_LEASE_ROWS:
            leases.add_row("…", f"{len(jobs) - MAX_LEASE_ROWS} more", "", "")
        return Group(summary, leases)


def live_view(runtime: NodeRuntime, server: str, console: Console) -> Live:
    return Live(NodeView(runtime, server), console=console, refresh_per_second=4, transient=True)
