"""Reviewers see the evidence of an abstraction: the items it rests on, down to their anchors."""

import hashlib

import pytest

from alexandria.knowledge.models import KnowledgeItem
from alexandria.reviews import selectors
from tests.reviews.test_consensus import ALICE, next_task

ACCEPTED = KnowledgeItem.Status.ACCEPTED


def abstraction(text: str, layer: int, derived_from, **extra) -> KnowledgeItem:
    item = KnowledgeItem.objects.create(kind="hypothesis", layer=layer, text=text, **extra)
    item.derived_from.set(derived_from)
    return item


@pytest.mark.django_db
def test_a_layer_three_item_comes_with_its_provenance_tree(bot_client_for, make_item, source):
    large = make_item("The library was large.", status=ACCEPTED)
    muses = make_item("It served the Muses.", quote="dedicated to the Muses", status=ACCEPTED)
    middle = abstraction("Large institutions served cults.", 2, [large, muses], status=ACCEPTED)
    hidden = abstraction("Abusive text.", 2, [muses], status=KnowledgeItem.Status.HIDDEN)
    top = abstraction("Ancient scholarship was religious.", 3, [middle, hidden])

    task = next_task(bot_client_for(ALICE))
    assert task["item"]["id"] == top.pk
    tree = task["provenance"]
    assert tree["omitted"] == 0
    by_id = {node["id"]: node for node in tree["items"]}
    assert [node["id"] for node in tree["items"]] == [middle.pk, hidden.pk, large.pk, muses.pk]
    assert by_id[middle.pk] | {"anchors": None} == {
        "id": middle.pk,
        "kind": "hypothesis",
        "layer": 2,
        "status": "accepted",
        "text": "Large institutions served cults.",
        "depth": 1,
        "derived_from": [large.pk, muses.pk],
        "anchors": None,
    }
    # Hidden by a moderator: listed, but neither its text nor its evidence is shown again.
    assert (by_id[hidden.pk]["text"], by_id[hidden.pk]["anchors"]) == ("", [])
    assert by_id[large.pk]["depth"] == by_id[muses.pk]["depth"] == 2
    [anchor] = by_id[muses.pk]["anchors"]
    quote = "dedicated to the Muses"
    start = source.text.index(quote)
    assert anchor == {
        "source_id": source.pk,
        "title": "Ancient libraries",
        "url": "https://example.org/libraries",
        "start": start,
        "end": start + len(quote),
        "span_sha256": hashlib.sha256(quote.encode()).hexdigest(),
        "source_sha256": source.sha256,
        "text_start": quote,
        "text_end": "",
        "fragment": quote,
        "link": "https://example.org/libraries#:~:text=dedicated%20to%20the%20Muses",
    }
    assert by_id[large.pk]["anchors"][0]["fragment"] == "one of the largest libraries"


@pytest.mark.django_db
def test_a_layer_one_item_has_no_provenance(bot_client_for, make_item):
    make_item()
    assert next_task(bot_client_for(ALICE))["provenance"] == {"items": [], "omitted": 0}


@pytest.mark.django_db
def test_a_wide_provenance_is_cut_and_says_how_much(make_item, monkeypatch):
    monkeypatch.setattr(selectors, "PROVENANCE_MAX_ITEMS", 3)
    bases = [make_item(f"Base claim {n}.", status=ACCEPTED) for n in range(5)]
    top = abstraction("A pattern over five claims.", 2, bases)
    tree = selectors.provenance(top)
    assert [node.item.pk for node in tree.nodes] == [base.pk for base in bases[:3]]
    assert tree.omitted == 2
