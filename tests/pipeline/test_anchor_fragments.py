"""Anchors keep offsets, the span's hash and a few words of its ends, within the retention
limits, however many overlapping anchors a model quotes across a text of several chunks."""

import json
import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from alexandria.jobs.models import JobResult
from alexandria.jobs.services.nodes import declare_model_class
from alexandria.knowledge.models import Anchor, Fact
from alexandria.pipeline.services.graph import store_anchors
from alexandria.sources.models import Source
from alexandria.textproc.fragments import quoted_ranges
from alexandria.textproc.shingles import words
from jobkinds import CAPABLE, get_kind
from tests.pipeline.documents import attribute
from tests.pipeline.driving import drain, submit_document
from tests.pipeline.scripted import ScriptedFact, ScriptedModel
from tests.support.anchors import assert_anchors_verify_within_limits

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = [
    "Ada Lovelace", "Charles Babbage", "Grace Hopper", "Alan Turing", "Emmy Noether",
    "Kurt Goedel", "Lise Meitner", "Niels Bohr", "Rosalind Franklin", "Claude Shannon",
    "Hedy Lamarr", "John Napier",
]  # fmt: skip
SENTENCES = [
    f"{name} studied the old problem of counting machines in a quiet library for many long "
    f"years before writing report number {number} about it."
    for number, name in enumerate(NAMES, start=1)
]
TEXT = " ".join(SENTENCES)


def quotes_of(sentence: str) -> list[str]:
    """Overlapping anchors on one sentence: whole, its first and last words, a stretch
    across both, and its first words again in other case and spacing (found tolerantly)."""
    words = sentence.split(" ")
    return [
        sentence,
        " ".join(words[:10]),
        " ".join(words[-9:]),
        " ".join(words[1:13]),
        "  ".join(words[:10]).upper(),
    ]


def facts_for(name: str, sentence: str) -> list[ScriptedFact]:
    entity = {"name": name, "type": "person"}
    return [
        # The predicate's words are the sentence's, as the server requires (issue 21).
        ScriptedFact(name, attribute(name, f"studied {n}", "counting machines", quote), [entity])
        for n, quote in enumerate(quotes_of(sentence))
    ]


def produce(model: ScriptedModel):
    def answer(kind: str, payload: dict) -> dict:
        return json.loads(model({"messages": get_kind(kind).build_messages(payload)}))

    return answer


def test_many_overlapping_anchors_keep_offsets_hashes_and_the_limits(member, node):
    declare_model_class(node, CAPABLE)  # more than a tiny model's handful per job
    source = submit_document(TEXT, "Counting machines", member)
    assert source.chunks.count() >= 4
    model = ScriptedModel(
        facts=[
            fact for name, s in zip(NAMES, SENTENCES, strict=True) for fact in facts_for(name, s)
        ]
    )
    drain(node, produce(model), kinds=["extract_graph"])

    assert not JobResult.objects.filter(job__source=source, status="invalid").exists()
    assert Fact.objects.filter(source=source).count() == len(NAMES) * 5
    anchors = list(Anchor.objects.filter(source=source).order_by("start", "end"))
    # The upper-case quote locates the same span as the first 10 words: 4 spans a sentence.
    assert len(anchors) == len(NAMES) * 4
    assert assert_anchors_verify_within_limits(source, TEXT) == len(anchors)
    # The full quotes were verified; only a few words of their ends are kept. The anchors of
    # a chunk share its budget in turns: each keeps its first word, none all six words.
    assert all(len(a.text_start.split()) <= 3 and len(a.text_end.split()) <= 3 for a in anchors)
    assert all(a.text_start for a in anchors)
    assert any(a.text_start and a.text_end for a in anchors)
    assert not any(len(a.text_start.split()) + len(a.text_end.split()) == 6 for a in anchors)
    assert all(any(TEXT[a.start : a.end] in s for s in SENTENCES) for a in anchors)


def test_anchors_stored_at_the_same_time_share_one_budget(member, postgres):
    """Results of one source validated concurrently: the source row's lock makes each see
    what the others quoted, so that together they stay within the chunk's share."""
    source = submit_document(TEXT, "Counting machines", member)
    chunk = source.chunks.get(index=0)
    found = [w for w in words(TEXT) if chunk.start <= w.start < chunk.end]
    batches = [
        [(found[first].start, found[first + length].end) for length in (5, 9, 14)]
        for first in range(0, 32, 8)
    ]
    barrier = threading.Barrier(len(batches))
    failures = []

    def store(spans):
        try:
            barrier.wait()
            with transaction.atomic():
                store_anchors(Source.objects.get(pk=source.pk), spans, chunk)
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=store, args=(spans,)) for spans in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures
    assert assert_anchors_verify_within_limits(source, TEXT) == 12
    quoted = set()
    for anchor in Anchor.objects.filter(source=source):
        for start, end in quoted_ranges(
            anchor.start, anchor.end, anchor.text_start, anchor.text_end
        ):
            quoted |= {i for i, w in enumerate(found) if w.start < end and w.end > start}
    assert 0 < len(quoted) <= int(settings.RETENTION_MAX_QUOTED_SHARE * len(found))
