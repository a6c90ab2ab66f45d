"""The public pages with Django's test client: citations in the HTML, nothing hidden, the age
switch in a cookie, pagination, empty and error states, cache headers, no inline script."""

import re

from django.test import Client

from alexandria.knowledge.models import KnowledgeItem

QUESTION = "Does exercise improve sleep quality?"


def html(response) -> str:
    return response.content.decode()


def test_search_page_groups_answers_with_citations(store):
    response = Client().get("/", {"q": QUESTION})
    assert response.status_code == 200
    page = html(response)
    assert store.accepted.text in page and store.contra.text in page
    assert 'class="pro"' in page and 'class="contra"' in page
    assert "Sleep and habits" in page and f"/sources/{store.source.pk}" in page
    assert "<mark>Regular exercise improves" in page
    assert "https://example.org/sleep#:~:text=" in page
    anchor = store.accepted.anchors.get()
    assert anchor.span_sha256 in page and f"{anchor.start}\u2013{anchor.end}" in page
    assert "public" in response["Cache-Control"] and response["ETag"]
    assert "Cookie" in response["Vary"]
    assert not re.search(r"<script|\son\w+=|style=", page)
    again = Client().get("/", {"q": QUESTION}, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_hidden_and_unsupported_items_never_appear_on_pages(store):
    KnowledgeItem.objects.filter(pk=store.contra.pk).update(status="hidden")
    page = html(Client().get("/", {"q": "sleep quality", "min_status": "pending"}))
    for item in (store.contra, store.hidden, store.unsupported, store.adult):
        assert item.text not in page
    for item in (store.hidden, store.unsupported, store.contra):
        assert Client().get(f"/items/{item.pk}").status_code == 404
    source_page = html(Client().get(f"/sources/{store.source.pk}"))
    assert store.hidden.text not in source_page and store.accepted.text in source_page


def test_age_switch_is_remembered_in_a_cookie(store):
    client = Client()
    assert store.adult.text not in html(client.get("/", {"q": "drinking before bed"}))
    assert client.get(f"/items/{store.adult.pk}").status_code == 404
    switched = client.get("/age", {"max_age_rating": "18", "next": "/?q=drinking+before+bed"})
    assert switched.status_code == 302 and switched["Location"] == "/?q=drinking+before+bed"
    assert switched.cookies["max_age_rating"].value == "18"
    assert store.adult.text in html(client.get("/", {"q": "drinking before bed"}))
    assert client.get(f"/items/{store.adult.pk}").status_code == 200
    elsewhere = client.get("/age", {"max_age_rating": "0", "next": "https://evil.example/"})
    assert elsewhere["Location"] == "/"


def test_pagination_links(store):
    first = html(Client().get("/", {"q": "sleep", "min_status": "pending", "limit": 1}))
    assert 'rel="next"' in first and "page=2" in first
    second = Client().get("/", {"q": "sleep", "min_status": "pending", "limit": 1, "page": 2})
    assert 'rel="prev"' in html(second)


def test_empty_and_error_states_say_what_to_do(store):
    empty = html(Client().get("/", {"q": QUESTION, "genre": "poetry"}))
    assert "No answer matched" in empty and "clear the filters" in empty
    bad = Client().get("/", {"q": QUESTION, "layer": "zero"})
    assert bad.status_code == 400 and "Please correct the search" in html(bad)
    missing = Client().get("/items/999999")
    assert missing.status_code == 404 and "Search" in html(missing)


def test_item_source_and_browse_pages(store):
    item = html(Client().get(f"/items/{store.abstraction.pk}"))
    assert store.accepted.text in item and store.pending.text in item  # rests on
    source = html(Client().get(f"/sources/{store.source.pk}"))
    assert store.source.sha256 in source and "health" in source
    browse = html(Client().get("/browse"))
    assert "/browse/genres/health" in browse and "/browse/keywords/sleep" in browse
    genre = html(Client().get("/browse/genres/health"))
    assert "Sleep and habits" in genre and "Drinking" not in genre
