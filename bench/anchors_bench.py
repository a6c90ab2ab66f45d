"""Benchmark the anchor locator: anchors per second on a synthetic ~200 KB source.

Run: .venv/bin/python bench/anchors_bench.py [--anchors 1000] [--seed 7]

The mix mirrors extractor output: mostly exact quotes, some with case/whitespace/quote-style
drift (tolerant), some with a typo (fuzzy) and some invented (rejected). Every anchor carries
the hint window of the chunk it was drawn from, as the pipeline passes it.
"""

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

WORDS = [
    "knowledge", "graph", "fact", "anchor", "source", "model", "protein", "energy", "cell",
    "theory", "result", "method", "data", "study", "evidence", "analysis", "structure",
    "system", "process", "function", "network", "language", "signal", "measurement",
    "experiment", "sample", "population", "effect", "value", "rate", "level", "change",
    "increase", "the", "of", "and", "to", "in", "is", "was", "that", "for", "with", "as", "on",
    "by", "are", "this", "be", "from", "at", "an", "which", "it", "were"
]  # fmt: skip


def synthetic_source(rng: random.Random, target_chars: int) -> str:
    """Paragraphs of random sentences with curly quotes and end-of-line hyphenation."""
    paragraphs, size = [], 0
    while size < target_chars:
        sentences = []
        for _ in range(rng.randint(3, 8)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 30))]
            if rng.random() < 0.2:
                i = rng.randrange(len(words))
                words[i] = f"\u201c{words[i]}\u201d"
            if rng.random() < 0.1:
                i = rng.randrange(len(words))
                cut = max(1, len(words[i]) // 2)
                words[i] = f"{words[i][:cut]}-\n{words[i][cut:]}"
            sentences.append(" ".join(words).capitalize() + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def make_anchor(rng: random.Random, source: str, chunk) -> tuple[str, str]:
    """An anchor drawn from `chunk`, and the kind of drift applied to it."""
    text = source[chunk.start : chunk.end]
    words = text.split()
    first = rng.randrange(max(1, len(words) - 12))
    quote = " ".join(words[first : first + rng.randint(6, 14)])
    roll = rng.random()
    if roll < 0.70:
        start = text.find(words[first])
        return text[start : start + len(quote)] if start >= 0 else quote, "exact-ish"
    if roll < 0.85:
        return quote.upper().replace("\u201c", '"').replace("\u201d", '"'), "tolerant"
    if roll < 0.95:
        position = rng.randrange(len(quote))
        return quote[:position] + "x" + quote[position + 1 :], "typo"
    return "entirely invented claim about quantum widgets and their peculiar habits", "invented"


def main() -> None:
    from alexandria.textproc.anchors import AnchorMatch, SourceIndex
    from alexandria.textproc.normalize import normalize_text
    from alexandria.textproc.segment import chunk_text

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--anchors", type=int, default=1000)
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    source = normalize_text(synthetic_source(rng, args.chars))
    chunks = chunk_text(source)
    jobs = []
    for _ in range(args.anchors):
        chunk = rng.choice(chunks)
        anchor, kind = make_anchor(rng, source, chunk)
        jobs.append((anchor, kind, chunk))

    started = time.perf_counter()
    index = SourceIndex(source)
    index.locate("warm up the folded view")
    built = time.perf_counter()
    outcomes: Counter[str] = Counter()
    for anchor, _, chunk in jobs:
        result = index.locate(anchor, hint_start=chunk.start, hint_end=chunk.end)
        outcomes[result.method if isinstance(result, AnchorMatch) else result.reason] += 1
    finished = time.perf_counter()

    located = finished - built
    print(f"source: {len(source):,} chars, {len(chunks)} chunks of ~200 words")
    print(f"index build (folded view): {(built - started) * 1000:.1f} ms")
    print(f"located {len(jobs)} anchors in {located * 1000:.1f} ms")
    print(f"throughput: {len(jobs) / located:,.0f} anchors/s (index build excluded)")
    print(f"end to end: {len(jobs) / (finished - started):,.0f} anchors/s (index build included)")
    print("outcomes:", ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))


if __name__ == "__main__":
    main()
