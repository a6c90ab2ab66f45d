"""What the demo runs on (``--texts DIR`` or the bundled samples), and how it explains a node
that finishes nothing: what the node last reported, what the server made of it, and the last
warnings in its log."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
# The file types the upload API extracts, by suffix.
TEXT_TYPES = {
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
# What the worker's exit statuses mean (worker.cli).
WORKER_EXITS = {
    2: "its configuration was refused (see the log)",
    3: "the backend refused its token",
    4: "its model server kept crashing, so it gave up",
}


class DemoInputError(Exception):
    """The demo's arguments name nothing it can run on."""


def demo_texts(directory: str | None) -> list[Path]:
    """The texts to analyse: the files of ``directory`` with a type the upload API reads
    (sorted, not recursive), or the bundled samples."""
    if directory is None:
        return sorted(DEMO_DIR.glob("*.md"))
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise DemoInputError(f"--texts {directory}: no such directory")
    texts = sorted(
        path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in TEXT_TYPES
    )
    if not texts:
        raise DemoInputError(f"--texts {directory}: no {'/'.join(sorted(TEXT_TYPES))} files in it")
    return texts


def node_report(node_name: str, log_path: Path) -> str:
    """Why no job is finishing: what the node last said of itself, whether the server paused
    it, and the last warnings in its log."""
    # Django is set up by the demo once its own environment is in place.
    from django.utils import timezone

    from alexandria.jobs.models import WorkerNode

    lines = []
    node = WorkerNode.objects.filter(name=node_name).first()
    if node is not None and node.reported_state:
        reason = f": {node.reported_reason}" if node.reported_reason else ""
        lines.append(f"the node reports it is {node.reported_state}{reason}")
    if node is not None and node.paused_until and node.paused_until > timezone.now():
        lines.append(f"the server paused the node: {node.pause_reason}")
    try:
        log_lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        log_lines = []
    warnings = [line for line in log_lines if " WARNING " in line or " ERROR " in line]
    lines += [f"  {line}" for line in warnings[-3:]] or ["  (no warnings in its log)"]
    return "\n".join(lines)
