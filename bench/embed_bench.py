"""Embedding throughput of the default embedder (MiniLM, offline), sentences per second.

Run by hand from the repository root (target: >= 200 sentences/s on 2 cores):

    .venv/bin/python bench/embed_bench.py --sentences 2000
    taskset -c 0,1 .venv/bin/python bench/embed_bench.py   # pin to 2 cores on a bigger machine
"""

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--embedder", default="minilm")
    args = parser.parse_args()
    import django

    django.setup()
    import torch
    from synthetic import statements

    from alexandria.embeddings import get_embedder

    started = time.perf_counter()
    embedder = get_embedder(args.embedder)
    loaded = time.perf_counter() - started
    texts, _ = statements(args.sentences)
    embedder.embed_texts(texts[:64])  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    vectors = embedder.embed_texts(texts)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"embedder={args.embedder} torch_threads={torch.get_num_threads()} cpus={os.cpu_count()}")
    print(f"model load: {loaded:.1f} s")
    print(
        f"{len(texts)} sentences (avg {sum(map(len, texts)) / len(texts):.0f} chars) in "
        f"{elapsed:.2f} s: {len(texts) / elapsed:.0f} sentences/s, shape {vectors.shape}"
    )
    # On a shared machine the wall clock includes other processes' time; CPU time does not.
    threads = torch.get_num_threads()
    print(
        f"CPU time {cpu:.2f} s: {len(texts) / cpu * threads:.0f} sentences/s "
        f"on {threads} uncontended cores"
    )


if __name__ == "__main__":
    main()
