"""Every write that creates or changes items asks for them to be re-indexed on commit: the
pipeline's derived items, consensus, accepted edits, moderation, a source's age rating, merges
and splits (abstraction: tests/search/test_layers.py)."""

import pytest
from django.db import transaction

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.core.tasking import Task
from alexandria.jobs.models import Job
from alexandria.jobs.services.payloads import span
from alexandria.knowledge import services as knowledge_services
from alexandria.knowledge.models import KnowledgeItem, Review
from alexandria.knowledge.services import hide_item, reindex_items_after_commit, restore_item
from alexandria.layers.models import MergeRecord
from alexandria.layers.services.merging import run_merge, split_merge
from alexandria.pipeline.services.derivation import DerivationCheck, DerivedItem, store_items
from alexandria.pipeline.services.profile import store_profile_result
from alexandria.pipeline.services.support import apply_verdict
from alexandria.reviews.models import EditProposal
from alexandria.reviews.services import accept_edit, settle_if_decided
from alexandria.search.vector_index import text_hash

TEXT = "Field notes. Honey bees dance to show where food is. Wasps do not dance."
OTHER = "A second notebook. Bees perform a waggle dance that points to flowers."


@pytest.fixture
def on_commit(settings, django_capture_on_commit_callbacks):
    """Indexing on commit switched on; ``with on_commit():`` runs the commit hooks."""
    settings.SEARCH_INDEX_ON_COMMIT = True
    return lambda: django_capture_on_commit_callbacks(execute=True)


def indexed(kb, layer: int = 1) -> dict[int, dict]:
    """The index's entries of a layer: id -> metadata."""
    return kb.index.entries(layer)


def test_requests_of_one_transaction_go_out_together_in_chunks(db, on_commit, monkeypatch):
    sent = []
    monkeypatch.setattr(knowledge_services, "send", lambda name, ids: sent.append((name, ids)))
    monkeypatch.setattr(knowledge_services, "INDEX_TASK_CHUNK", 2)
    with on_commit():
        reindex_items_after_commit([3, 1])
        reindex_items_after_commit([2, 1])
    assert sent == [(Task.INDEX_ITEMS, [1, 2]), (Task.INDEX_ITEMS, [3])]


def test_no_requests_while_indexing_on_commit_is_off(db, settings, monkeypatch):
    sent = []
    monkeypatch.setattr(knowledge_services, "send", lambda name, ids: sent.append(ids))
    monkeypatch.setattr(knowledge_services, "enqueue", lambda name, ids: sent.append(ids))
    settings.SEARCH_INDEX_ON_COMMIT = False
    reindex_items_after_commit([1])
    knowledge_services.reindex_source_items_after_commit(1)
    assert sent == []


def test_derived_items_are_indexed_with_their_sources(kb, on_commit):
    source = kb.source("Bee notes", TEXT)
    anchor = kb.anchor(source, "Honey bees dance to show where food is")
    job = Job.objects.create(kind="derive", source=source)
    check = DerivationCheck(
        kept=[DerivedItem(0, "hypothesis", "Bees dance to share food sites.", {}, 0.9, [anchor.pk])]
    )
    with on_commit():
        [item] = store_items(job, check, prompt_version="1")
    # Not shown before its evidence is verified; indexed once a verify_support job says so.
    assert item.pk not in indexed(kb)
    with on_commit():
        apply_verdict(item.support_job, {"verdict": "supports", "reason": "the span says so"})
    entry = indexed(kb)[item.pk]
    assert entry["text_sha"] == text_hash("Bees dance to share food sites.")
    assert entry["source_ids"] == str(source.pk) and entry["status"] == "pending"


def test_consensus_updates_the_index(kb, on_commit):
    source = kb.source("Bee notes", TEXT)
    anchor = kb.anchor(source, "Honey bees dance to show where food is")
    right = kb.item("Honey bees dance to show where food is found.", anchors=[anchor])
    wrong = kb.item("Wasps dance to show where food is.", anchors=[anchor])
    kb.sync()
    for n in range(3):
        reviewer = contributor_for_discord_user(f"50000000000000000{n}", display_name=f"r{n}")
        Review.objects.create(item=right, reviewer=reviewer, verdict="supported", weight=1.0)
        Review.objects.create(item=wrong, reviewer=reviewer, verdict="not_supported", weight=1.0)

    with on_commit(), transaction.atomic():
        settle_if_decided(KnowledgeItem.objects.select_for_update().get(pk=right.pk))
        settle_if_decided(KnowledgeItem.objects.select_for_update().get(pk=wrong.pk))

    entries = indexed(kb)
    assert entries[right.pk]["status"] == "accepted"
    assert wrong.pk not in entries


def test_an_accepted_edit_replaces_the_item_in_the_index(kb, on_commit):
    source = kb.source("Bee notes", TEXT)
    anchor = kb.anchor(source, "Honey bees dance to show where food is")
    item = kb.item("Bees dance.", anchors=[anchor])
    above = kb.item("Insects communicate by moving.", layer=2, derived_from=[item])
    kb.sync()
    kb.index.delete(2, [above.pk])  # re-indexed only if the edit asks for it
    proposer = contributor_for_discord_user("500000000000000009", display_name="editor")
    proposal = EditProposal.objects.create(
        item=item, proposer=proposer, text="Honey bees dance to show where food is."
    )

    with on_commit():
        new_version = accept_edit(proposal)

    entries = indexed(kb)
    assert item.pk not in entries
    assert entries[new_version.pk]["text_sha"] == text_hash(
        "Honey bees dance to show where food is."
    )
    assert entries[new_version.pk]["source_ids"] == str(source.pk)
    assert above.pk in indexed(kb, 2)


def test_moderation_hides_and_restores_items_in_the_index(kb, on_commit):
    item = kb.item("Bees dance to share food sites.")
    kb.sync()
    with on_commit():
        hide_item(item, "spam")
    assert item.pk not in indexed(kb)
    with on_commit():
        restore_item(item)
    assert indexed(kb)[item.pk]["status"] == "pending"


def test_an_age_rating_reaches_the_items_grounded_in_the_source(kb, on_commit):
    source = kb.source("Bee notes", TEXT)
    other = kb.source("Waggle notes", OTHER, age_rating=0)
    anchor = kb.anchor(source, "Honey bees dance to show where food is")
    grounded = kb.item("Honey bees dance to show where food is.", anchors=[anchor])
    elsewhere = kb.item(
        "Bees point to flowers by dancing.", anchors=[kb.anchor(other, "waggle dance")]
    )
    above = kb.item("Insects communicate by moving.", layer=2, derived_from=[grounded])
    kb.sync()
    assert indexed(kb)[grounded.pk]["age_rating"] == 18  # unrated: adults only
    job = Job.objects.create(
        kind="rate_age", source=source, payload={"excerpt": span(0, len(TEXT))}
    )
    output = {
        "age_rating": 6,
        "violence": "none",
        "sexual_content": "none",
        "suitability": "Fine for young readers.",
    }

    with on_commit():
        store_profile_result(job, output, prompt_version="1")

    assert indexed(kb)[grounded.pk]["age_rating"] == 6
    assert indexed(kb, 2)[above.pk]["age_rating"] == 6
    assert indexed(kb)[elsewhere.pk]["age_rating"] == 0


def test_merges_and_splits_update_the_index(kb, on_commit):
    first_source = kb.source("Bee notes", TEXT)
    second_source = kb.source("Waggle notes", OTHER)
    first = kb.item(
        "Honey bees dance to show where food is.",
        anchors=[kb.anchor(first_source, "Honey bees dance to show where food is")],
    )
    second = kb.item(
        "Honey bees dance to show where the food is.",
        anchors=[kb.anchor(second_source, "waggle dance")],
    )
    kb.sync()

    with on_commit():
        assert run_merge(1, index=kb.index).merged == 1
    entries = indexed(kb)
    assert second.pk not in entries
    assert entries[first.pk]["source_ids"] == f"{first_source.pk},{second_source.pk}"

    with on_commit():
        split_merge(MergeRecord.objects.get(), reason="different scope")
    entries = indexed(kb)
    assert entries[first.pk]["source_ids"] == str(first_source.pk)
    assert entries[second.pk]["source_ids"] == str(second_source.pk)
