"""What cross-lingual search an embedder can do, and what it costs in English quality and speed.

The labelled set tests/data/german_crosslingual.jsonl holds 20 questions, each in English and
German, with the statement that answers it in both languages, and 20 distractor statements
(some on the same topics). Every question is searched among the 40 statements of one language,
as /ask searches the index, and scored by hit rate@1, hit rate@5 and mean reciprocal rank:

- en -> en: English questions, English statements (the baseline);
- de -> de: German questions, German statements (monolingual German);
- de -> en: German questions, English statements (cross-lingual);
- en -> de: English questions, German statements (cross-lingual).

The trade-off, in the same run: how well the cosine separates "same" from "different" pairs of
tests/data/merge_pairs.jsonl (English) and merge_pairs_de.jsonl (German) as ROC AUC (what the
merge and neighbour thresholds rest on), and the speed: sentences per second on synthetic
statements (wall clock, and per CPU-second, which other processes do not distort) and
single-query latency p50/p99. Run by hand from the repository root (under a minute per
embedder on 2 cores):

    HF_HUB_OFFLINE=1 .venv/bin/python bench/crosslingual.py       # SEARCH_EMBEDDER's
    HF_HUB_OFFLINE=1 .venv/bin/python bench/crosslingual.py --embedder minilm
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")

DATA = REPO / "tests" / "data"
SET = DATA / "german_crosslingual.jsonl"
PAIR_SETS = (("en", DATA / "merge_pairs.jsonl"), ("de", DATA / "merge_pairs_de.jsonl"))
DIRECTIONS = (("en", "en"), ("de", "de"), ("de", "en"), ("en", "de"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(ranks: list[int]) -> tuple[float, float, float]:
    """Hit rate@1, hit rate@5 and mean reciprocal rank of 1-based ranks."""
    n = len(ranks)
    return (
        sum(r == 1 for r in ranks) / n,
        sum(r <= 5 for r in ranks) / n,
        sum(1 / r for r in ranks) / n,
    )


def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    above = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return float((above + ties / 2) / (len(positives) * len(negatives)))


def crosslingual(embedder) -> None:
    rows = _rows(SET)
    asked = [row for row in rows if "query_en" in row]
    position = {row["id"]: i for i, row in enumerate(rows)}
    statements, questions = {}, {}
    for lang in ("en", "de"):
        statements[lang] = embedder.embed_texts([row[f"statement_{lang}"] for row in rows])
        questions[lang] = embedder.embed_texts([row[f"query_{lang}"] for row in asked])
    print(f"{len(asked)} questions, {len(rows)} statements per language")
    print("direction  hit@1  hit@5  MRR")
    print(f"chance     {1 / len(rows):5.2f}  {5 / len(rows):5.2f}")
    for query_lang, statement_lang in DIRECTIONS:
        # Rows are L2-normalised: the dot product is the cosine similarity.
        similarity = questions[query_lang] @ statements[statement_lang].T
        ranks = [
            1 + int((similarity[i] > similarity[i, position[row["id"]]]).sum())
            for i, row in enumerate(asked)
        ]
        hit1, hit5, mrr = score(ranks)
        print(f"{query_lang} -> {statement_lang}   {hit1:5.2f}  {hit5:5.2f}  {mrr:.2f}")


def pair_separation(embedder) -> None:
    for lang, path in PAIR_SETS:
        pairs = _rows(path)
        a = embedder.embed_texts([pair["a"] for pair in pairs])
        b = embedder.embed_texts([pair["b"] for pair in pairs])
        cosine = np.sum(a * b, axis=1)
        same = np.array([pair["label"] == "same" for pair in pairs])
        auc = roc_auc(cosine[same], cosine[~same])
        print(
            f"merge pairs {lang}: ROC AUC same vs different {auc:.3f}"
            f" (mean cosine same {cosine[same].mean():.2f}, different {cosine[~same].mean():.2f};"
            f" {same.sum()} same, {(~same).sum()} different)"
        )


def speed(embedder, sentences: int, queries: int) -> None:
    from synthetic import statements

    texts, _ = statements(sentences)
    asked = [text.split(" in ")[0] for text in statements(queries, seed=1)[0]]
    embedder.embed_texts(texts[:64])  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    embedder.embed_texts(texts)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    latencies = []
    for query in asked:
        started = time.perf_counter()
        embedder.embed_texts([query])
        latencies.append(time.perf_counter() - started)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    # On a shared machine the wall clock includes other processes' time; CPU time does not.
    # Per CPU-second, as embedders differ in how many cores one call uses.
    print(
        f"speed: {len(texts) / elapsed:5.0f} sentences/s on {len(os.sched_getaffinity(0))} cores"
        f" ({len(texts) / cpu:5.0f} per CPU-second) | query p50 {p50:5.1f} ms p99 {p99:5.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--embedder", help="use-multilingual, minilm or clip (default: SEARCH_EMBEDDER's)"
    )
    parser.add_argument("--sentences", type=int, default=1000, help="0 skips the speed run")
    parser.add_argument("--queries", type=int, default=100, help="single-query latency samples")
    args = parser.parse_args()
    import django

    django.setup()
    from alexandria.embeddings import get_embedder

    started = time.perf_counter()
    embedder = get_embedder(args.embedder)
    print(f"embedder={embedder.name} (loaded in {time.perf_counter() - started:.1f} s)")
    crosslingual(embedder)
    pair_separation(embedder)
    if args.sentences:
        speed(embedder, args.sentences, args.queries)


if __name__ == "__main__":
    main()
