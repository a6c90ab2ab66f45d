"""A full dataset release of 100k synthetic items (target: < 60 s and < 1 GB peak RSS), then a
diff after 1 % of them changed; the baseline, in the same run, streams the same rows with the
same queries and writes nothing, so the writer's own cost shows as a ratio.

The data: 1,000 purged sources (fingerprinted first, so the release's verbatim check really
hashes every string), one anchor per item, 1 % layer-2 items derived from two others, merges
and stance verdicts. Each phase runs in a fresh process, so its peak RSS is its own.

    createdb -h 127.0.0.1 -U postgres alexandria_release_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alexandria_release_bench \\
        .venv/bin/python bench/release_bench.py --items 100000
(without DATABASE_URL: SQLite in a temporary folder)
"""

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "bench")]

ITEMS_PER_SOURCE = 100


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone
    from synthetic import OBJECTS, SUBJECTS, VERBS

    from alexandria.knowledge.models import Anchor, KnowledgeItem
    from alexandria.layers.models import MergeRecord
    from alexandria.pipeline.models import SourceProfile
    from alexandria.search.models import StanceVerdict
    from alexandria.sources.fingerprints import store_fingerprint
    from alexandria.sources.models import Source
    from alexandria.sources.services import purge_texts

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    layer2 = n // 100
    n1 = n - layer2
    items, through, anchor_rows = [], [], []
    for s in range((n1 + ITEMS_PER_SOURCE - 1) // ITEMS_PER_SOURCE):
        sentences, claims = [], []
        for j in range(min(ITEMS_PER_SOURCE, n1 - s * ITEMS_PER_SOURCE)):
            k = s * ITEMS_PER_SOURCE + j
            subj, obj = SUBJECTS[k % len(SUBJECTS)], OBJECTS[(k // 7) % len(OBJECTS)]
            active, passive = VERBS[k % len(VERBS)]
            sentences.append(f"In study {k}, {subj} {active} {obj} among {k % 90 + 5} percent "
                             "of the adults observed by the authors.")  # fmt: skip
            claims.append(f"{obj.capitalize()} {passive} {subj} (study {k}).")
        text = " ".join(sentences)
        source = Source.objects.create(
            title=f"Synthetic study collection {s}",
            url=f"https://journal{s % 10}.example.org/papers/{s}",
            language="en" if s % 4 else "de",
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            char_count=len(text),
            byte_size=len(text.encode()),
            text=text,
            status=Source.Status.ANALYSED,
            licence_note="CC BY 4.0",
        )
        SourceProfile.objects.create(
            source=source, genre="science" if s % 3 else "health", summary=f"Studies {s}."
        )
        store_fingerprint(source)
        at = 0
        for sentence, claim in zip(sentences, claims, strict=True):
            words = sentence.split()
            anchor_rows.append(
                Anchor(
                    source=source,
                    start=at,
                    end=at + len(sentence),
                    span_sha256=hashlib.sha256(sentence.encode()).hexdigest(),
                    text_start=" ".join(words[:3]),
                    text_end=" ".join(words[-3:]),
                )
            )
            items.append(KnowledgeItem(kind="hypothesis", text=claim, status="accepted"))
            at += len(sentence) + 1
    purge_texts(Source.objects.all())
    anchors = Anchor.objects.bulk_create(anchor_rows, batch_size=5000)
    created = KnowledgeItem.objects.bulk_create(items, batch_size=5000)
    through = [
        KnowledgeItem.anchors.through(knowledgeitem_id=i.pk, anchor_id=a.pk)
        for i, a in zip(created, anchors, strict=True)
    ]
    KnowledgeItem.anchors.through.objects.bulk_create(through, batch_size=10000)
    upper = KnowledgeItem.objects.bulk_create(
        [
            KnowledgeItem(kind="hypothesis", layer=2, text=f"Pattern {i}.", status="accepted")
            for i in range(layer2)
        ],
        batch_size=5000,
    )
    derived = KnowledgeItem.derived_from.through
    derived.objects.bulk_create(
        [
            derived(from_knowledgeitem_id=u.pk, to_knowledgeitem_id=created[(2 * i + d) % n1].pk)
            for i, u in enumerate(upper)
            for d in (0, 1)
        ],
        batch_size=10000,
    )
    now = timezone.now()
    merged = created[-layer2:]
    KnowledgeItem.objects.filter(pk__in=[m.pk for m in merged]).update(merged_into_id=created[0].pk)
    MergeRecord.objects.bulk_create(
        MergeRecord(canonical=created[0], merged=m, similarity=0.9, method="guard") for m in merged
    )
    StanceVerdict.objects.bulk_create(
        [
            StanceVerdict(
                claim=created[i], other=created[i + 1], relation="supports", decided_at=now
            )
            for i in range(0, 2 * layer2, 2)
        ]
    )
    total, sources = KnowledgeItem.objects.count(), Source.objects.count()
    seconds = time.perf_counter() - started
    print(f"generated {total:,} items, {len(anchors):,} anchors, {sources:,} sources "
          f"in {seconds:.1f} s")  # fmt: skip


def baseline() -> None:
    """The same queries, rows consumed and dropped: what reading alone costs."""
    from alexandria.releases.selectors import Selection, Slice

    started = time.perf_counter()
    selection = Selection(Slice())
    rows = 0
    for read in (selection.item_rows, selection.anchor_rows, selection.source_rows):
        rows += sum(1 for _ in read())
    rows += sum(1 for _ in selection.relation_rows())
    print(f"baseline  {time.perf_counter() - started:6.1f} s  peak RSS {_peak_mb():6.0f} MB  "
          f"({rows:,} rows read, nothing written)")  # fmt: skip


def release(out: str, diff: bool) -> None:
    from alexandria.knowledge.models import KnowledgeItem
    from alexandria.releases.services import write_release

    if diff:  # 1 % of the items change
        ids = list(KnowledgeItem.objects.filter(layer=1).values_list("pk", flat=True)[::100])
        for pk in ids:
            KnowledgeItem.objects.filter(pk=pk).update(text=f"Revised claim {pk}.")
    started = time.perf_counter()
    written = write_release(diff=diff, out=Path(out))
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in Path(written.path).rglob("*") if p.is_file())
    counts = ", ".join(f"{k} {v['rows']:,}" for k, v in written.counts.items())
    print(f"{written.kind:<8}  {seconds:6.1f} s  peak RSS {_peak_mb():6.0f} MB  "
          f"({counts}; {size / 1e6:.1f} MB on disk; items +{written.counts['items']['added']:,} "
          f"~{written.counts['items']['updated']:,})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--phase", choices=("all", "generate", "baseline", "full", "diff"))
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.phase and args.phase != "all":
        _setup()
        if args.phase == "generate":
            generate(args.items)
        elif args.phase == "baseline":
            baseline()
        else:
            release(args.out, diff=args.phase == "diff")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ALEXANDRIA_VAR_DIR": tmp, "HF_HUB_OFFLINE": "1"}
        for phase in ("generate", "baseline", "full", "diff"):
            subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--items", str(args.items),
                 "--out", str(Path(tmp) / "releases")],
                env=env, check=True,
            )  # fmt: skip


if __name__ == "__main__":
    main()
