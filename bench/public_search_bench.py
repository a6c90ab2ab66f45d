"""Public search end to end over HTTP at ``--items`` items: the public search API
(``/api/v1/public/search``: embedding, index, database, citations, pro/contra/related) and the
search page (``/?q=…``, the same plus the template), next to the raw index query (embedding +
nearest neighbours with the same k and filters) of the same questions in the same run, so the
public path's overhead shows as a ratio.

Run by hand from the repository root (targets: API p50 < 100 ms, p99 < 300 ms; page
p50 < 150 ms), with PostgreSQL on 127.0.0.1:5432 (the database is dropped and re-created):

    .venv/bin/python bench/public_search_bench.py --items 100000 --queries 200

The store is synthetic (bench/synthetic.py): accepted (2 in 3) and pending hypotheses, one
anchor each, over ``--sources`` rated sources (ages 0-18), stand-in vectors so the build does
not wait for 100k embeddings; every question is embedded with the real model. The app runs
in this process (DEBUG off, wsgiref in a thread, one request at a time), Chroma on disk in a
temporary directory, the default filters (accepted, age rating at most 12).
"""

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]
RATINGS = (0, 6, 12, 16, 18)
GENRES = ("health", "science", "history", "law", "cooking", "sports", "music", "finance")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="alexandria_public_bench")
    return parser.parse_args()


def prepare(args: argparse.Namespace, chroma: str) -> None:
    """A fresh, migrated database and Django set up on it, production-like (DEBUG off)."""
    import psycopg

    os.environ.update(
        DATABASE_URL=f"{args.pg}/{args.db}",
        DJANGO_SETTINGS_MODULE="alexandria.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",  # noqa: S106
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="ERROR",
        CHROMA_PATH=chroma,
        CHROMA_URL="",
        SEARCH_INDEX_ON_COMMIT="0",
        THROTTLE_PUBLIC="100000000/min",
        HF_HUB_OFFLINE="1",
    )
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, check=True)
    import django

    django.setup()


def build(args: argparse.Namespace) -> list[str]:
    """Sources with profiles, one anchor and one hypothesis per statement, and the index."""
    from django.db import connection
    from synthetic import family_vectors, statements

    from alexandria.knowledge.models import Anchor, KnowledgeItem
    from alexandria.pipeline.models import SourceProfile
    from alexandria.search.services.indexing import item_metadata
    from alexandria.search.vector_index import VectorIndex
    from alexandria.sources.models import Source

    started = time.perf_counter()
    texts, families = statements(args.items)
    sources = Source.objects.bulk_create(
        Source(
            title=f"Synthetic source {i}",
            url=f"https://example.org/sources/{i}",
            sha256=hashlib.sha256(f"source {i}".encode()).hexdigest(),
            char_count=1_000_000,
            byte_size=1_000_000,
            text="",
            status=Source.Status.ANALYSED,
            language="en",
        )
        for i in range(args.sources)
    )
    SourceProfile.objects.bulk_create(
        SourceProfile(
            source=source,
            age_rating=RATINGS[i % len(RATINGS)],
            genre=GENRES[i % len(GENRES)],
            keywords=[GENRES[(i + 1) % len(GENRES)], f"topic{i % 50}"],
        )
        for i, source in enumerate(sources)
    )
    index = VectorIndex()
    vectors = family_vectors(families)
    link = KnowledgeItem.anchors.through
    for begin in range(0, args.items, 5000):
        positions = range(begin, min(begin + 5000, args.items))
        anchors = Anchor.objects.bulk_create(
            Anchor(
                source=sources[p % args.sources],
                start=(p // args.sources) * 100,
                end=(p // args.sources) * 100 + 80,
                span_sha256=hashlib.sha256(texts[p].encode()).hexdigest(),
                text_start=" ".join(texts[p].split()[:3]),
                text_end=" ".join(texts[p].split()[-3:]),
            )
            for p in positions
        )
        items = KnowledgeItem.objects.bulk_create(
            KnowledgeItem(
                kind="hypothesis",
                layer=1,
                text=texts[p],
                status="accepted" if p % 3 else "pending",
            )
            for p in positions
        )
        link.objects.bulk_create(
            link(knowledgeitem_id=item.pk, anchor_id=anchor.pk)
            for item, anchor in zip(items, anchors, strict=True)
        )
        for chunk in range(0, len(items), 1000):
            part = items[chunk : chunk + 1000]
            index.upsert(
                1,
                [item.pk for item in part],
                vectors[begin + chunk : begin + chunk + len(part)],
                [item.text for item in part],
                [
                    item_metadata(
                        item,
                        RATINGS[(begin + chunk + n) % args.sources % len(RATINGS)],
                        [sources[(begin + chunk + n) % args.sources].pk],
                    )
                    for n, item in enumerate(part)
                ],
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"built {args.items} items over {args.sources} sources (PostgreSQL + Chroma) "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return texts


def serve() -> tuple[str, object]:
    """The Django app (as gunicorn runs it) on wsgiref in a thread, quiet."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from alexandria.wsgi import application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as chroma:
        prepare(args, chroma)
        texts = build(args)
        import numpy as np
        import requests

        from alexandria.search.querying import CANDIDATE_FACTOR, MIN_STATUSES, Filters
        from alexandria.search.vector_index import VectorIndex

        rng = np.random.default_rng(1)
        questions = [
            texts[i].replace("(cohort", "for people (group")
            for i in rng.integers(0, args.items, size=args.queries)
        ]
        # The public path's default query: page 1 of 5, accepted, age rating at most 12.
        k = (5 + 1) * CANDIDATE_FACTOR
        where = Filters(MIN_STATUSES["accepted"], 12).where()
        index = VectorIndex()
        base, server = serve()
        http = requests.Session()
        for question in questions[:5]:  # warm the model, the index, the connections
            index.query(1, index.embedder.embed_texts([question]), k, where)
            http.get(f"{base}/api/v1/public/search", params={"q": question}).raise_for_status()
            http.get(f"{base}/", params={"q": question}).raise_for_status()
        raw, api, page, answers = [], [], [], []
        for question in questions:
            started = time.perf_counter()
            index.query(1, index.embedder.embed_texts([question]), k, where)
            raw.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            response = http.get(f"{base}/api/v1/public/search", params={"q": question})
            api.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            results = response.json()["results"]
            answers.append(len(results))
            assert all(answer["sources"] for answer in results), "an answer without citations"
            started = time.perf_counter()
            response = http.get(f"{base}/", params={"q": question})
            page.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        server.shutdown()
    raw_p50, raw_p99 = percentiles(raw)
    api_p50, api_p99 = percentiles(api)
    page_p50, page_p99 = percentiles(page)
    print(
        f"{args.queries} questions over {args.items} items, default filters, "
        f"{statistics.mean(answers):.1f} answers each on average"
    )
    print(f"raw index query (embed + ANN k={k}): p50 {raw_p50:.1f} ms, p99 {raw_p99:.1f} ms")
    print(
        f"public search API over HTTP:  p50 {api_p50:.1f} ms, p99 {api_p99:.1f} ms "
        f"(x{api_p50 / raw_p50:.1f} / x{api_p99 / raw_p99:.1f} the raw query) "
        f"[target p50 < 100, p99 < 300: {'met' if api_p50 < 100 and api_p99 < 300 else 'MISSED'}]"
    )
    print(
        f"search page over HTTP:        p50 {page_p50:.1f} ms, p99 {page_p99:.1f} ms "
        f"(x{page_p50 / raw_p50:.1f} the raw query) "
        f"[target p50 < 150: {'met' if page_p50 < 150 else 'MISSED'}]"
    )


if __name__ == "__main__":
    main()
