"""Vector index build rate and query latency at ``--nodes`` items (Chroma on disk in a temp
directory, our collections and metadata filters), including the query's MiniLM embedding.

Run by hand from the repository root (targets: build >= 1,000 vectors/s in batches >= 100;
at 100k nodes p50 < 50 ms and p99 < 200 ms):

    .venv/bin/python bench/query_bench.py --nodes 100000 --queries 200

The stored vectors are stand-ins (bench/synthetic.py) so the build does not wait for 100k
embeddings; every query is embedded with the real model.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    import django

    django.setup()
    import chromadb
    import numpy as np
    from chromadb.config import Settings
    from synthetic import family_vectors, statements

    from alexandria.embeddings import get_embedder
    from alexandria.search.vector_index import VectorIndex, where_all

    texts, families = statements(args.nodes)
    vectors = family_vectors(families)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as path:
        client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
        index = VectorIndex(client=client, embedder=get_embedder(), prefix="bench")
        ids = list(range(1, args.nodes + 1))
        started = time.perf_counter()
        for start in range(0, args.nodes, args.batch):
            end = start + args.batch
            index.upsert(
                1,
                ids[start:end],
                vectors[start:end],
                texts[start:end],
                [
                    {
                        "layer": 1,
                        "kind": "hypothesis",
                        "status": "accepted" if i % 3 else "pending",
                        "age_rating": int(rng.choice([0, 6, 12, 16, 18])),
                        "source_ids": str(i % 997),
                        "stance": "supports",
                    }
                    for i in ids[start:end]
                ],
            )
        build = time.perf_counter() - started
        print(
            f"index build: {args.nodes} vectors in {build:.1f} s = {args.nodes / build:.0f} "
            f"vectors/s (batches of {args.batch})"
        )
        # The default question (pending or accepted, any age) needs no Chroma filter; a
        # restrictive one (accepted only, max age 12) does: both are measured.
        restrictive = where_all({"status": {"$in": ["accepted"]}}, {"age_rating": {"$lte": 12}})
        questions = [
            texts[i].replace("(cohort", "for people (group")
            for i in rng.integers(0, args.nodes, size=args.queries)
        ]
        for question in questions[:5]:  # warm the model and the HNSW index
            index.query(1, index.embedder.embed_texts([question]), args.k)
        for label, where in (("default, no filter", None), ("accepted + age<=12", restrictive)):
            latencies = []
            for question in questions:
                started = time.perf_counter()
                hits = index.query(1, index.embedder.embed_texts([question]), args.k, where)
                latencies.append((time.perf_counter() - started) * 1000)
                assert hits[0]
            latencies.sort()
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"query [{label}] (embed + ANN k={args.k}) over {args.nodes} nodes, "
                f"{args.queries} queries: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                f"max {latencies[-1]:.1f} ms"
            )


if __name__ == "__main__":
    main()
