"""MiniLM embedding speed, reference (sentence-transformers on torch) against the fast path
(the ONNX export of the same weights on onnxruntime), measured in one run.

Per runtime: sentences per second on synthetic statements, single-query latency p50/p99, and
the fast path's cosine agreement with the reference. Run by hand from the repository root
(targets: >= 300 sentences/s on 2 cores, a query in a few ms, agreement >= 0.99):

    .venv/bin/python bench/embed_bench.py --sentences 2000
    taskset -c 0,1 .venv/bin/python bench/embed_bench.py   # pin to 2 cores on a bigger machine
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")


def measure(runtime: str, texts: list[str], queries: list[str]) -> np.ndarray:
    """Print one runtime's numbers; return its vectors for ``texts``."""
    from alexandria.embeddings import MiniLMEmbedder

    started = time.perf_counter()
    embedder = MiniLMEmbedder(runtime)
    loaded = time.perf_counter() - started
    embedder.embed_texts(texts[:64])  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    vectors = embedder.embed_texts(texts)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    latencies = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed_texts([query])
        latencies.append(time.perf_counter() - started)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    # On a shared machine the wall clock includes other processes' time; CPU time does not.
    cores = len(os.sched_getaffinity(0))
    print(
        f"{runtime:>5}: load {loaded:4.1f} s | {len(texts) / elapsed:5.0f} sentences/s "
        f"(CPU time: {len(texts) / cpu * cores:5.0f}/s on {cores} uncontended cores) | "
        f"query p50 {p50:5.1f} ms p99 {p99:5.1f} ms"
    )
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200, help="single-query latency samples")
    args = parser.parse_args()
    import django

    django.setup()
    from synthetic import statements

    texts, _ = statements(args.sentences)
    queries = [text.split(" in ")[0] for text in statements(args.queries, seed=1)[0]]
    print(
        f"{len(texts)} sentences (avg {sum(map(len, texts)) / len(texts):.0f} chars), "
        f"{len(queries)} queries (avg {sum(map(len, queries)) / len(queries):.0f} chars), "
        f"cpus={len(os.sched_getaffinity(0))}"
    )
    reference = measure("torch", texts, queries)
    fast = measure("onnx", texts, queries)
    cosines = np.sum(reference * fast, axis=1)
    print(f"agreement onnx/torch: min cosine {cosines.min():.6f}, mean {cosines.mean():.6f}")


if __name__ == "__main__":
    main()
