"""The ``alexandria ask`` command, the embedders, and indexing on commit."""

import importlib.util
import logging

import numpy as np
import pytest

from alexandria.cli import format_answer, main
from alexandria.demo import _check_grounding
from alexandria.embeddings import get_embedder
from alexandria.knowledge.models import KnowledgeItem
from alexandria.knowledge.services import hide_item, reindex_items_after_commit
from alexandria.search.services.indexing import sync_recent_changes

TEXT = "Field notes. Honey bees dance to show where food is. Wasps do not dance."


def test_alexandria_ask_prints_a_grounded_answer(kb, capsys):
    source = kb.source("Bee notes", TEXT, url="https://example.org/bees")
    anchor = kb.anchor(source, "Honey bees dance to show where food is")
    item = kb.item("Honey bees communicate food locations by dancing.", anchors=[anchor])
    kb.sync()

    assert main(["ask", "How do bees share where food is?", "--no-summary"]) == 0
    assert "Nothing in the knowledge base matches" in capsys.readouterr().out  # pending only

    argv = ["ask", "How do bees share where food is?", "--no-summary", "--min-status", "pending"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        f"1. #{item.pk} (L1 hypothesis) Honey bees communicate food locations by dancing."
        "  (pending review)"
    ) in out
    assert (
        f"https://example.org/bees  [{anchor.start}:{anchor.end}]  "
        '"Honey bees dance \u2026 where food is"'
    ) in out
    assert f"span sha256 {anchor.span_sha256}  source sha256 {source.sha256}" in out
    assert "https://example.org/bees#:~:text=Honey%20bees%20dance,where%20food%20is" in out


def test_demo_checks_each_citation_against_the_original(kb):
    source = kb.source("Bee notes", TEXT, url="https://example.org/bees")
    anchor = kb.anchor(source, "Honey bees dance to show where food is")
    cited = {
        "source_id": source.pk,
        "source_sha256": source.sha256,
        "start": anchor.start,
        "end": anchor.end,
        "span_sha256": anchor.span_sha256,
        "text_start": anchor.text_start,
        "text_end": anchor.text_end,
    }
    answer = {
        "results": [{"item": {"id": 1}, "sources": [cited], "pro": [{"id": 2, "sources": [cited]}]}]
    }
    assert _check_grounding(answer, {source.pk: TEXT}) == 2
    uncited = {
        "results": [{"item": {"id": 1}, "sources": [cited], "related": [{"id": 3, "sources": []}]}]
    }
    with pytest.raises(SystemExit, match="#3 is shown without citations"):
        _check_grounding(uncited, {source.pk: TEXT})
    shifted = {"results": [{"item": {"id": 1}, "sources": [{**cited, "end": anchor.end - 1}]}]}
    with pytest.raises(SystemExit, match="grounding broken"):
        _check_grounding(shifted, {source.pk: TEXT})
    with pytest.raises(SystemExit, match="grounding broken"):
        _check_grounding(answer, {source.pk: TEXT.replace("Wasps", "Moths")})


def test_format_answer_cites_a_passage_without_a_quote_by_offsets_and_hashes():
    source = {
        "source_id": 1,
        "title": "Bee notes",
        "url": "",
        "source_sha256": "cd" * 32,
        "start": 13,
        "end": 51,
        "span_sha256": "ab" * 32,
        "text_start": "",
        "text_end": "",
        "fragment": "",
        "link": "",
    }
    item = {"id": 1, "kind": "hypothesis", "layer": 1, "text": "Bees dance.", "status": "pending"}
    result = {"item": item, "score": 0.5, "pro": [], "contra": [], "instructions": []}
    text = format_answer({"query": "q", "results": [{**result, "sources": [source]}]})
    assert "Bee notes  [13:51]  (no words kept)" in text
    assert f"span sha256 {'ab' * 32}  source sha256 {'cd' * 32}" in text


def test_format_answer_without_results_says_so():
    text = format_answer({"query": "q", "results": [], "summary": None})
    assert "Nothing in the knowledge base matches" in text


def test_remote_ask_needs_a_token(capsys):
    with pytest.raises(SystemExit, match="--token"):
        main(["ask", "q", "--api", "http://127.0.0.1:9", "--token", ""])


def test_minilm_embeddings_are_normalised_and_semantic():
    embedder = get_embedder("minilm")
    vectors = embedder.embed_texts(
        ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock prices fell."]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


@pytest.mark.skipif(
    importlib.util.find_spec("open_clip") is None,
    reason="open_clip is not installed (pip install 'alexandria[clip]')",
)
def test_clip_text_embedder(settings):
    settings.SEARCH_CLIP_PRETRAINED = ""  # untrained weights: this checks the plumbing only
    vectors = get_embedder("clip").embed_texts(["a red square", "a blue sky"])
    assert vectors.shape[0] == 2
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_items_are_indexed_and_unindexed_on_commit(
    kb, settings, django_capture_on_commit_callbacks
):
    settings.SEARCH_INDEX_ON_COMMIT = True
    with django_capture_on_commit_callbacks(execute=True):
        item = KnowledgeItem.objects.create(
            kind="hypothesis", text="Bees dance to share food sites."
        )
        reindex_items_after_commit([item.pk])
    assert kb.index.count(1) == 1
    # Hiding takes the item out of the index as soon as the moderation commits.
    with django_capture_on_commit_callbacks(execute=True):
        hide_item(item, "spam")
    assert kb.index.count(1) == 0


def test_periodic_sync_catches_changes_made_without_a_reindex_request(kb):
    item = KnowledgeItem.objects.create(kind="hypothesis", text="Ants follow scent trails.")
    assert sync_recent_changes(window_seconds=300) == 1
    assert kb.index.count(1) == 1
    KnowledgeItem.objects.filter(pk=item.pk).update(status=KnowledgeItem.Status.REJECTED)
    assert sync_recent_changes(window_seconds=300) == 1
    assert kb.index.count(1) == 0


def test_periodic_sync_warns_about_items_out_of_step(kb, settings, caplog):
    settings.SEARCH_INDEX_ON_COMMIT = True
    relabelled = kb.item("Bees dance to share food sites.")
    rejected = kb.item("Wasps dance to share food sites.")
    kb.item("Moths fly towards light.")  # indexed and unchanged: in step
    kb.sync()
    KnowledgeItem.objects.create(kind="hypothesis", text="Ants follow scent trails.")
    KnowledgeItem.objects.filter(pk=relabelled.pk).update(status=KnowledgeItem.Status.ACCEPTED)
    KnowledgeItem.objects.filter(pk=rejected.pk).update(status=KnowledgeItem.Status.REJECTED)
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="alexandria.search.services.indexing"):
        assert sync_recent_changes(window_seconds=300) == 4
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "index sync: 3 of 4 recently changed items were out of step with the index "
        "(1 missing, 1 stale, 1 no longer visible)"
    )
    assert kb.index.count(1) == 3 and rejected.pk not in kb.index.vectors(1, [rejected.pk])

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="alexandria.search.services.indexing"):
        assert sync_recent_changes(window_seconds=300) == 4
    assert caplog.records == []
