"""Figures in answers: the member /ask API, the public search API and the public search page
show matching figures' captions, pages and citations with a link to the source page (never
an image), only of sources the reader may see; without CLIP weights they show none."""

import pytest

from alexandria.cli import main
from alexandria.embeddings import get_embedder
from alexandria.figures.services.indexing import index_embeddings
from tests.support.figures import (
    embed,
    make_figure,
    make_source,
)

TEXT = (
    "Methods. Figure 1: Honey bee waggle dance angles against the sun. "
    "Figure 2: Pollen load per forager over one season."
)
CAPTION = "Figure 1: Honey bee waggle dance angles against the sun."
OTHER_CAPTION = "Figure 2: Pollen load per forager over one season."

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers(figure_prefix, tiny_clip):
    """A paper for everyone (two figures) and one rated 16 (one figure), embedded by the
    server's (tiny) model as if their images matched their captions exactly."""
    child = make_source("Bee paper", TEXT, age_rating=0, language="en")
    adult = make_source("Adult bee paper", TEXT, age_rating=16, language="de")
    figures = [
        make_figure(child, CAPTION, index=0, page=2),
        make_figure(child, OTHER_CAPTION, index=1, page=5),
        make_figure(adult, CAPTION, index=0, page=1),
    ]
    vectors = get_embedder("clip").embed_texts([CAPTION, OTHER_CAPTION, CAPTION])
    rows = [embed(figure, vector) for figure, vector in zip(figures, vectors, strict=True)]
    index_embeddings([row.pk for row in rows])
    return child, adult, figures


def test_public_search_api_lists_figures_on_the_first_page(papers, anonymous_client, settings):
    child, _, figures = papers
    body = anonymous_client.get("/api/v1/public/search", {"q": CAPTION}).json()
    assert body["results"] == []
    # Age 12 by default: the paper rated 16 shows no figure.
    assert [f["id"] for f in body["figures"]] == [figures[0].pk, figures[1].pk]
    first = body["figures"][0]
    anchor = figures[0].caption_anchor
    assert first["page"] == 2 and first["index"] == 0
    assert first["similarity"] == pytest.approx(1.0, abs=1e-3)
    assert first["caption"]["fragment"] == anchor.fragment
    assert (first["caption"]["start"], first["caption"]["end"]) == (anchor.start, anchor.end)
    assert first["caption"]["span_sha256"] == anchor.span_sha256
    assert first["caption"]["link"].startswith(child.url + "#:~:text=")
    assert first["source"] == {
        "id": child.pk,
        "title": child.title,
        "url": child.url,
        "sha256": child.sha256,
    }
    assert first["source_page"] == f"{settings.PUBLIC_BASE_URL}/sources/{child.pk}"
    assert "image" not in first and "image_b64" not in str(body)
    page_two = anonymous_client.get("/api/v1/public/search", {"q": CAPTION, "page": 2}).json()
    assert page_two["figures"] == []


def test_public_search_api_applies_the_age_and_source_filters(papers, anonymous_client):
    _, adult, figures = papers
    adults = anonymous_client.get(
        "/api/v1/public/search", {"q": CAPTION, "max_age_rating": 16}
    ).json()
    assert {f["id"] for f in adults["figures"]} == {f.pk for f in figures}
    only_adult = anonymous_client.get(
        "/api/v1/public/search", {"q": CAPTION, "max_age_rating": 18, "source": adult.pk}
    ).json()
    assert [f["id"] for f in only_adult["figures"]] == [figures[2].pk]
    none = anonymous_client.get(
        "/api/v1/public/search", {"q": CAPTION, "max_age_rating": 18, "language": "fr"}
    ).json()
    assert none["figures"] == []


def test_member_ask_lists_figures_within_age_and_language(papers, bot_client):
    _, _, figures = papers
    body = bot_client.get(
        "/api/v1/ask", {"q": CAPTION, "max_age_rating": 12, "summary": "false"}
    ).json()
    assert body["results"] == [] and body["summary"] is None
    assert [f["id"] for f in body["figures"]] == [figures[0].pk, figures[1].pk]
    german = bot_client.get(
        "/api/v1/ask", {"q": CAPTION, "language": "de", "summary": "false"}
    ).json()
    assert [f["id"] for f in german["figures"]] == [figures[2].pk]
    assert german["figures"][0]["caption"]["fragment"] == figures[2].caption_anchor.fragment


def test_search_page_shows_captions_pages_and_source_links(papers, client):
    child, _, figures = papers
    html = client.get("/", {"q": CAPTION}).content.decode()
    assert 'aria-labelledby="figures-heading"' in html
    assert f'href="/sources/{child.pk}"' in html
    assert "page 2, figure 1" in html and "page 5, figure 2" in html
    assert figures[0].caption_anchor.fragment in html
    assert "Adult bee paper" not in html
    assert "<img" not in html


def test_without_clip_weights_answers_have_no_figures(papers, settings, anonymous_client, client):
    settings.SEARCH_CLIP_PRETRAINED = ""
    body = anonymous_client.get("/api/v1/public/search", {"q": CAPTION}).json()
    assert body["figures"] == []
    assert "figures-heading" not in client.get("/", {"q": CAPTION}).content.decode()


def test_an_empty_index_answers_figures_too(figure_prefix, tiny_clip, anonymous_client):
    body = anonymous_client.get("/api/v1/public/search", {"q": CAPTION}).json()
    assert body["results"] == [] and body["figures"] == []


def test_alexandria_ask_prints_the_figures(papers, capsys):
    child, _, figures = papers
    assert main(["ask", CAPTION, "--no-summary", "--max-age-rating", "12"]) == 0
    out = capsys.readouterr().out
    anchor = figures[0].caption_anchor
    assert (
        f"Figure: {child.url}  p. 2, figure 1  caption [{anchor.start}:{anchor.end}] "
        f'"{anchor.fragment}"  [similarity 1.00]'
    ) in out
    assert f"/sources/{child.pk}" in out
    assert "Adult bee paper" not in out and out.count("Figure: ") == 2
