"""Soak: the real ``alexandria-worker --local`` (the bundled SmolLM2-135M behind llama.cpp)
runs extract_graph, the pipeline's heaviest request (a grammar built from the chunk's
sentences and phrases), on 20 realistic scientific texts written for the project, end to end
against the fake backend. It passes with no crash of the model server, or with crashes that
the node survived by restarting it (each printed with its cause).

Slow (minutes on a few CPU cores): it runs only when asked for, ``pytest -m soak`` or
``make soak``.
"""

import importlib.util
import json
import re
import signal
import time
from pathlib import Path

import pytest

from alexandria.textproc.extract import extract_text
from alexandria.textproc.phrases import candidate_anchors, candidate_entities
from jobkinds import extract_graph
from tests.worker.conftest import TOKEN

pytestmark = [
    pytest.mark.soak,
    pytest.mark.timeout(3 * 3600),
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed (pip install 'alexandria[local-llm]')",
    ),
]

DATA = Path(__file__).resolve().parents[1] / "data"
TYPES = {".md": "text/markdown", ".txt": "text/plain", ".html": "text/html"}
CRASH = re.compile(
    r"the node's model server (was killed by signal \d+ \(\w+\)|exited with status -?\d+)"
)


def realistic_texts() -> list[tuple[str, str]]:
    """(title, text): the demo's three texts and the soak's abstracts, 20 in all."""
    texts = []
    for path in sorted((DATA / "demo_texts").iterdir()):
        if path.suffix in TYPES:
            data = path.read_bytes()
            extracted = extract_text(data, content_type=TYPES[path.suffix], filename=path.name)
            texts.append((path.stem, extracted.text))
    for line in (DATA / "soak_abstracts.jsonl").read_text().splitlines():
        item = json.loads(line)
        texts.append((item["title"], item["text"]))
    return texts


def graph_payloads(title: str, text: str) -> list[dict]:
    """extract_graph payloads as planning builds them, one per paragraph, with the chunk's
    sentences and phrases as the decoding choices."""
    payloads = []
    offset = 0
    for chunk in (part for part in text.split("\n\n") if part.strip()):
        start = text.index(chunk, offset)
        offset = start + len(chunk)
        anchors = [a for a in candidate_anchors(chunk, extract_graph.ANCHOR_MAX_CHARS) if a]
        names = [
            n
            for n in candidate_entities(chunk, language="en")
            if 0 < len(n) <= extract_graph.NAME_MAX_CHARS
        ]
        if not anchors or not names:
            continue
        payloads.append(
            {
                "source_title": title,
                "chunk_index": len(payloads),
                "chunk_start": start,
                "chunk_end": offset,
                "context_before": "",
                "chunk": chunk,
                "context_after": "",
                "prompt_version": extract_graph.PROMPT_VERSION,
                "language": "en",
                "anchor_candidates": anchors,
                "entity_candidates": names,
            }
        )
    return payloads


def test_realistic_texts_run_through_the_local_model_without_a_crash(fake_backend, start_worker):
    texts = realistic_texts()
    assert len(texts) >= 20
    fake_backend.lease_seconds = 600
    for title, text in texts:
        for payload in graph_payloads(title, text):
            fake_backend.add_job(extract_graph.KIND.name, payload)
    started = time.monotonic()
    process = start_worker(
        "--server", fake_backend.url,
        "--token", TOKEN,
        "--local",
        "--kinds", extract_graph.KIND.name,
        "--concurrency", "2",
        "--poll-interval", "1",
    )  # fmt: skip
    try:
        fake_backend.wait_until(
            lambda: (
                all(job.status in ("done", "failed") for job in fake_backend.jobs.values())
                or process.poll() is not None
            ),
            timeout=2.5 * 3600,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    crashes = CRASH.findall(output)
    jobs = list(fake_backend.jobs.values())
    print(
        f"soak: {len(texts)} texts, {len(jobs)} extract_graph jobs in "
        f"{time.monotonic() - started:.0f}s: "
        f"{sum(job.status == 'done' for job in jobs)} done, "
        f"{sum(job.status == 'failed' for job in jobs)} failed (invalid output); "
        f"model server crashes: {len(crashes)} {crashes}"
    )
    assert process.returncode == 0, output[-5000:]
    assert all(job.status in ("done", "failed") for job in jobs), output[-5000:]
    assert sum(job.status == "done" for job in jobs) >= len(jobs) // 2
    # Crashes, if any, were survived by a restart and cost at most one hand-back per job held.
    assert output.count("model server is back") == len(crashes)
    assert len([c for c in fake_backend.calls("fail") if c.body["release"]]) <= 2 * len(crashes)
