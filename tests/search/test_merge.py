"""Merging stored items: paraphrases merge, look-alikes don't, provenance is united, splits
restore, and uncertain pairs are settled by a verify_merge vote."""

import numpy as np
import pytest

from alexandria.jobs.handlers import get_handler
from alexandria.jobs.models import Job, JobResult
from alexandria.knowledge.models import KnowledgeItem
from alexandria.layers.models import MergeCheck, MergeRecord, MergeVerification
from alexandria.layers.services.merging import run_merge, split_merge
from alexandria.search.vector_index import VectorIndex
from tests.search.conftest import KeyedEmbedder

TEXT_A = "Tobacco smoke is dangerous. Smoking causes lung cancer in many long-term smokers."
TEXT_B = "A review of cohort studies. Lung cancer is caused by smoking, the authors conclude."


@pytest.fixture
def two_sources(kb):
    a = kb.source("Source A", TEXT_A, url="https://example.org/a")
    b = kb.source("Source B", TEXT_B, url="https://example.org/b")
    return a, b


def test_paraphrases_merge_with_the_union_of_provenance(kb, two_sources):
    a, b = two_sources
    anchor_a = kb.anchor(a, "Smoking causes lung cancer")
    anchor_b = kb.anchor(b, "Lung cancer is caused by smoking")
    first = kb.item("Smoking causes lung cancer.", anchors=[anchor_a])
    second = kb.item("Lung cancer is caused by smoking.", anchors=[anchor_b])
    kb.sync()

    report = run_merge(1, index=kb.index)

    second.refresh_from_db()
    assert report.merged == 1 and report.checked == 2
    assert second.merged_into_id == first.pk
    assert set(first.anchors.all()) == {anchor_a, anchor_b}
    record = MergeRecord.objects.get()
    assert (record.canonical_id, record.merged_id, record.method) == (first.pk, second.pk, "guard")
    assert record.similarity > 0.93
    assert list(record.added_anchors.all()) == [anchor_b]


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("Smoking causes lung cancer.", "Smoking does not cause lung cancer."),
        ("Dogs bite cats.", "Cats bite dogs."),
        ("The vaccine prevented 90% of infections.", "The vaccine prevented 60% of infections."),
        ("Exercise lowers blood pressure.", "Exercise raises blood pressure."),
    ],
)
def test_look_alikes_never_merge_nor_go_to_a_vote(kb, text, other):
    kb.item(text)
    kb.item(other)
    kb.sync()

    report = run_merge(1, index=kb.index)

    assert report.merged == 0 and report.verifications == 0
    assert sum(report.vetoed.values()) == 1
    assert not KnowledgeItem.objects.filter(merged_into__isnull=False).exists()
    assert not Job.objects.filter(kind="verify_merge").exists()
    assert MergeCheck.objects.count() == 2


def test_no_transitive_chain_through_the_database(db, settings, search_index):
    """A~B and B~C but A≁C: C stays on its own (it may only join through A, the canonical)."""
    angle = np.radians(18.2)
    vectors = {
        "Alpha statement red": [1, 0],
        "Alpha statement green": [np.cos(angle), np.sin(angle)],
        "Alpha statement blue": [np.cos(2 * angle), np.sin(2 * angle)],
    }
    index = VectorIndex(client=search_index.client, embedder=KeyedEmbedder(vectors))
    a, b, c = (KnowledgeItem.objects.create(kind="hypothesis", text=text) for text in vectors)

    run_merge(1, index=index)

    for item in (a, b, c):
        item.refresh_from_db()
    assert b.merged_into_id == a.pk
    assert a.merged_into_id is None and c.merged_into_id is None


def test_a_new_item_joins_an_indexed_canonical_item(kb, two_sources):
    a, b = two_sources
    first = kb.item("Smoking causes lung cancer.", anchors=[kb.anchor(a, "Smoking causes")])
    kb.sync()
    run_merge(1, index=kb.index)
    later = kb.item("Lung cancer is caused by smoking.", anchors=[kb.anchor(b, "Lung cancer")])
    kb.sync()

    report = run_merge(1, index=kb.index)

    later.refresh_from_db()
    assert report.checked == 1
    assert later.merged_into_id == first.pk


def test_split_restores_both_items(kb, two_sources):
    a, b = two_sources
    shared = kb.anchor(a, "Tobacco smoke is dangerous")
    own = kb.anchor(a, "Smoking causes lung cancer")
    gained = kb.anchor(b, "Lung cancer is caused by smoking")
    first = kb.item("Smoking causes lung cancer.", anchors=[shared, own])
    second = kb.item("Lung cancer is caused by smoking.", anchors=[shared, gained])
    kb.sync()
    run_merge(1, index=kb.index)
    record = MergeRecord.objects.get()
    assert set(first.anchors.all()) == {shared, own, gained}

    assert split_merge(record, reason="different scope") is True
    assert split_merge(record, reason="again") is False

    second.refresh_from_db()
    record.refresh_from_db()
    assert second.merged_into_id is None
    assert set(first.anchors.all()) == {shared, own}
    assert set(second.anchors.all()) == {shared, gained}
    assert record.split_at is not None and record.split_reason == "different scope"
    # A split made by a moderator is final: the next run does not merge the pair again.
    kb.sync()
    assert run_merge(1, index=kb.index).merged == 0


def _submit(job: Job, output: dict) -> None:
    handler = get_handler(job.kind)
    assert job.kind and handler.validate(job, output).is_valid
    handler.apply(job, JobResult(job=job, output=output))


def test_uncertain_pair_is_merged_by_a_vote(kb):
    first = kb.item("Coffee improves concentration.")
    second = kb.item("Drinking coffee helps people concentrate better.")
    kb.sync()

    report = run_merge(1, index=kb.index)

    assert report.merged == 0 and report.verifications == 1
    verification = MergeVerification.objects.get()
    job = verification.job
    assert job.kind == "verify_merge"
    assert {job.payload["first"]["id"], job.payload["second"]["id"]} == {first.pk, second.pk}
    handler = get_handler("verify_merge")
    assert handler.agree(
        {"same_meaning": True, "reason": "a"}, {"same_meaning": True, "reason": "b"}
    )
    assert not handler.agree(
        {"same_meaning": True, "reason": ""}, {"same_meaning": False, "reason": ""}
    )

    _submit(job, {"same_meaning": True, "reason": "Same claim, different words."})

    second.refresh_from_db()
    assert second.merged_into_id == first.pk
    assert MergeRecord.objects.get().method == "llm"


def test_a_no_vote_keeps_the_pair_apart(kb):
    kb.item("Coffee improves concentration.")
    kb.item("Drinking coffee helps people concentrate better.")
    kb.sync()
    run_merge(1, index=kb.index)
    job = MergeVerification.objects.get().job

    _submit(job, {"same_meaning": False, "reason": "Different scope."})

    assert not KnowledgeItem.objects.filter(merged_into__isnull=False).exists()
    assert MergeVerification.objects.get().same_meaning is False
