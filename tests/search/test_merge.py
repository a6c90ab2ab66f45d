"""Merging stored items: equal texts merge, look-alikes don't, paraphrases go to a vote,
provenance is united, splits restore, and ``alexandria merge-decide`` decides as the task does."""

import json

import numpy as np
import pytest

from alexandria.cli import main
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


def _cosine(kb, text_a: str, text_b: str) -> float:
    """The recorded similarity is the cosine of the two items' embeddings."""
    a, b = kb.index.embedder.embed_texts([text_a, text_b])
    return float(a @ b)


def test_equal_texts_merge_with_the_union_of_provenance(kb, two_sources):
    a, b = two_sources
    anchor_a = kb.anchor(a, "Smoking causes lung cancer")
    anchor_b = kb.anchor(b, "Lung cancer is caused by smoking")
    first = kb.item("Smoking causes lung cancer.", anchors=[anchor_a])
    second = kb.item("smoking causes  lung-cancer", anchors=[anchor_b])
    kb.sync()

    report = run_merge(1, index=kb.index)

    second.refresh_from_db()
    assert report.merged == 1 and report.checked == 2
    assert second.merged_into_id == first.pk
    assert set(first.anchors.all()) == {anchor_a, anchor_b}
    record = MergeRecord.objects.get()
    assert (record.canonical_id, record.merged_id, record.method) == (first.pk, second.pk, "guard")
    assert record.similarity == pytest.approx(_cosine(kb, first.text, second.text), abs=1e-3)
    assert list(record.added_anchors.all()) == [anchor_b]


def test_a_paraphrase_in_the_passive_goes_to_a_vote(kb):
    kb.item("Smoking causes lung cancer.")
    kb.item("Lung cancer is caused by smoking.")
    kb.sync()

    report = run_merge(1, index=kb.index)

    assert report.merged == 0 and report.verifications == 1
    expected = _cosine(kb, "Smoking causes lung cancer.", "Lung cancer is caused by smoking.")
    assert MergeVerification.objects.get().similarity == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("Smoking causes lung cancer.", "Smoking does not cause lung cancer."),
        ("Dogs bite cats.", "Cats bite dogs."),
        ("The vaccine prevented 90% of infections.", "The vaccine prevented 60% of infections."),
        ("Exercise lowers blood pressure.", "Exercise raises blood pressure."),
        ("Exercise lowers blood pressure.", "Exercise may lower blood pressure."),
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
    angle = np.radians(22)  # A~B, B~C: cos 22° ≈ 0.93; A~C: cos 44° ≈ 0.72 < recall
    vectors = {
        "Alpha statement.": [1, 0],
        "alpha statement": [np.cos(angle), np.sin(angle)],
        "ALPHA STATEMENT!": [np.cos(2 * angle), np.sin(2 * angle)],
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
    later = kb.item("smoking causes lung cancer", anchors=[kb.anchor(b, "Lung cancer")])
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
    second = kb.item("Smoking causes lung cancer!", anchors=[shared, gained])
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
    second = kb.item("Coffee boosts concentration.")
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
    kb.item("Coffee boosts concentration.")
    kb.sync()
    run_merge(1, index=kb.index)
    job = MergeVerification.objects.get().job

    _submit(job, {"same_meaning": False, "reason": "Different scope."})

    assert not KnowledgeItem.objects.filter(merged_into__isnull=False).exists()
    assert MergeVerification.objects.get().same_meaning is False


STEPS = ["Fill a pot with cold water", "Put the eggs in", "Boil them for nine minutes"]
SAME_PAIRS = [
    (
        "hypothesis",
        "Tariffs raise consumer prices.",
        {},
        "Consumer prices are raised by tariffs.",
        {},
    ),
    ("hypothesis", "Tariffs raise consumer prices.", {}, "Tariffs may raise consumer prices.", {}),
    ("hypothesis", "Tariffs raise consumer prices.", {}, "tariffs raise consumer prices", {}),
    (
        "instruction",
        "Boil eggs",
        {"steps": STEPS},
        "Boil eggs",
        {"steps": [STEPS[1], STEPS[0], STEPS[2]]},
    ),
]


def _task_decision(report, verification, record):
    if report.merged:
        return "merge", record.similarity
    if report.verifications:
        return "verify", verification.similarity
    (reason,) = report.vetoed
    return "apart", reason


@pytest.mark.parametrize(("kind", "text_a", "details_a", "text_b", "details_b"), SAME_PAIRS)
def test_the_merge_task_and_merge_decide_take_one_path(
    kb, tmp_path, capsys, kind, text_a, details_a, text_b, details_b
):
    kb.item(text_a, kind=kind, details=details_a)
    kb.item(text_b, kind=kind, details=details_b)
    kb.sync()
    report = run_merge(1, index=kb.index)
    task = _task_decision(report, MergeVerification.objects.first(), MergeRecord.objects.first())

    def as_line(text, details):
        steps = details.get("steps", [])
        return "\n".join([text, *(f"- {step}" for step in steps)])

    pairs = tmp_path / "pairs.jsonl"
    line = {"a": as_line(text_a, details_a), "b": as_line(text_b, details_b), "kind": kind}
    pairs.write_text(json.dumps(line) + "\n")
    assert main(["merge-decide", str(pairs)]) == 0
    printed = json.loads(capsys.readouterr().out)

    if task[0] == "apart":
        assert (printed["decision"], printed["reason"]) == task
    else:
        assert printed["decision"] == task[0]
        assert printed["similarity"] == pytest.approx(task[1], abs=1e-4)


def test_merge_decide_prints_one_line_per_pair(db, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"a": "Rust is memory safe.", "b": "rust is memory-safe", "kind": "hypothesis"},
        {"a": "Rust is memory safe.", "b": "Rust is not memory safe.", "kind": "hypothesis"},
        {"a": "Rust is memory safe.", "b": "Bread needs yeast.", "kind": "hypothesis"},
    ]
    pairs.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")

    assert main(["merge-decide", str(pairs)]) == 0

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["decision"], p["reason"]) for p in printed] == [
        ("merge", "normalised_equal"),
        ("apart", "negation"),
        ("apart", "dissimilar"),
    ]
    assert all(0 <= p["similarity"] <= 1.0001 for p in printed)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not json", "line 2: not JSON"),
        ('{"a": "x", "b": "y", "kind": "claim"}', "line 2: 'kind'"),
        ('{"a": "x", "kind": "hypothesis"}', "line 2: 'b'"),
        ("[1, 2]", "line 2: expected a JSON object"),
    ],
)
def test_merge_decide_rejects_a_bad_line_before_printing(tmp_path, capsys, bad, message):
    pairs = tmp_path / "pairs.jsonl"
    good = json.dumps({"a": "Rust is safe.", "b": "Rust is safe!", "kind": "hypothesis"})
    pairs.write_text(f"{good}\n{bad}\n")

    assert main(["merge-decide", str(pairs)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
