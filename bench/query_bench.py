"""Vector index at scale: build rate, filtered query latency and resident memory at each of
``--nodes`` sizes (Chroma embedded on disk in a temporary directory, our partitioned
collections), next to a raw, unpartitioned Chroma collection of the same vectors queried
without a filter in the same run.

Run by hand from the repository root (targets at 100k: filtered query including the query's
embedding p50 < 30 ms and p99 < 100 ms, filtered / raw unfiltered <= 1.5; build >= 2,000
vectors/s; latency growing sub-linearly from 100k to 300k):

    .venv/bin/python bench/query_bench.py --nodes 10000,100000,300000 --queries 200

Filters measured: the public default (accepted, age rating at most 12) and a selective one
(the same plus one genre of 50, about 2 % of the items). The stored vectors are stand-ins
(bench/synthetic.py) so the build does not wait for the embedder; every query is embedded
with the real one, timed apart.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
AGES = (0, 6, 12, 16, 18)


def rss_mib() -> tuple[float, float]:
    """Resident memory now and at its peak (MiB), from /proc."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def metadata(rng, n: int, genres: int) -> list[dict]:
    return [
        {
            "layer": 1,
            "kind": "hypothesis",
            "status": "accepted" if i % 3 else "pending",
            "age_rating": int(rng.choice(AGES)),
            "genres": f"genre{int(rng.integers(genres))}",
            "text_sha": f"{i:016x}",
        }
        for i in range(n)
    ]


def run(size: int, args, embedder) -> None:
    import chromadb
    import numpy as np
    from chromadb.config import Settings
    from synthetic import family_vectors, statements

    from alexandria.search.vector_index import BulkLoader, Scope, VectorIndex

    rng = np.random.default_rng(0)
    texts, families = statements(size)
    vectors = family_vectors(families, dim=embedder.dimension)
    metadatas = metadata(rng, size, args.genres)
    ids = list(range(1, size + 1))
    with tempfile.TemporaryDirectory() as path:
        client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
        index = VectorIndex(client=client, embedder=embedder, prefix="bench")
        started, cpu_started = time.perf_counter(), time.process_time()
        with BulkLoader(index) as loader:  # as rebuild_index writes
            for begin in range(0, size, args.batch):
                end = begin + args.batch
                loader.add(1, ids[begin:end], vectors[begin:end], metadatas[begin:end])
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stored = size * 2  # each item in its partition and in its genre's facet
        print(
            f"[{size}] index build: {size} items ({stored} vectors with the genre facets) in "
            f"{build:.1f} s = {size / build:.0f} items/s, {stored / build:.0f} vectors/s "
            f"({stored / build_cpu:.0f} vectors per CPU-second)"
        )
        raw = None
        if size <= args.raw_max:
            raw = client.create_collection(
                "raw_baseline", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            for begin in range(0, size, 5000):
                raw.add(
                    ids=[str(i) for i in ids[begin : begin + 5000]],
                    embeddings=vectors[begin : begin + 5000],
                )
            raw_build = time.perf_counter() - started
            raw_cpu = time.process_time() - cpu_started
            print(
                f"[{size}] raw Chroma collection (no partitions, no metadata): "
                f"{size / raw_build:.0f} vectors/s ({size / raw_cpu:.0f} per CPU-second)"
            )
        questions = [
            texts[i].replace("(cohort", "for people (group")
            for i in rng.integers(0, size, size=args.queries)
        ]
        public = Scope(statuses=("accepted",), max_age_rating=12)
        embedded = []
        embed_ms = []
        for question in questions[:5]:  # warm the model
            embedder.embed_texts([question])
        for question in questions:
            started = time.perf_counter()
            embedded.append(embedder.embed_texts([question]))
            embed_ms.append((time.perf_counter() - started) * 1000)
        cases = {
            "raw unfiltered": lambda v: raw.query(
                query_embeddings=v, n_results=args.k, include=["distances", "metadatas"]
            ),
            "all items, unfiltered": lambda v: index.query(1, v, args.k),
            "accepted + age<=12": lambda v: index.query(1, v, args.k, public),
            "accepted + age<=12 + 1 genre (~2%)": lambda v: index.query(
                1, v, args.k, Scope(("accepted",), 12, genre=f"genre{args.genres // 2}")
            ),
        }
        if raw is None:
            del cases["raw unfiltered"]
        timings = {label: [] for label in cases}
        for vector in embedded[:5]:  # warm the indexes
            for query in cases.values():
                query(vector)
        for vector in embedded:  # interleaved, so load drifts hit every case alike
            for label, query in cases.items():
                started = time.perf_counter()
                query(vector)
                timings[label].append((time.perf_counter() - started) * 1000)
        embed_p50, embed_p99 = percentiles(embed_ms)
        raw_p50, raw_p99 = percentiles(timings.get("raw unfiltered") or [float("nan")])
        print(f"[{size}] query embedding: p50 {embed_p50:.1f} ms, p99 {embed_p99:.1f} ms")
        for label, latencies in timings.items():
            p50, p99 = percentiles(latencies)
            total_p50, total_p99 = percentiles(
                [e + q for e, q in zip(embed_ms, latencies, strict=True)]
            )
            print(
                f"[{size}] {label:<36} index p50 {p50:6.1f} ms, p99 {p99:6.1f} ms | with "
                f"embedding p50 {total_p50:6.1f} ms, p99 {total_p99:6.1f} ms | "
                f"/ raw unfiltered p50 x{p50 / raw_p50:.2f}, p99 x{p99 / raw_p99:.2f}"
            )
        now, peak = rss_mib()
        print(f"[{size}] resident memory: {now:.0f} MiB now, {peak:.0f} MiB peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="100000", help="comma-separated index sizes")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--k", type=int, default=24, help="the /ask default: (5 + 1) * 4")
    parser.add_argument("--genres", type=int, default=50)
    parser.add_argument(
        "--raw-max", type=int, default=100_000, help="build the raw baseline up to this size"
    )
    args = parser.parse_args()
    import django

    django.setup()
    from alexandria.embeddings import get_embedder

    embedder = get_embedder()
    print(f"cpus={os.cpu_count()} embedder={embedder.name} k={args.k}")
    for size in (int(n) for n in args.nodes.split(",")):
        run(size, args, embedder)


if __name__ == "__main__":
    main()
