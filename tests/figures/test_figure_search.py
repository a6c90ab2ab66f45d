"""Figure search: the index holds one collection per CLIP model, an indexed figure is found by
its own embedding, and the database decides which figures a reader may see (age rating,
language, sources; a takedown removes them). Plumbing and invariants with a tiny random
model, no semantics."""

import numpy as np
import pytest
from django.core.management import call_command

from alexandria.figures import selectors
from alexandria.figures.identity import clip_identity
from alexandria.figures.index import FigureIndex, collection_name
from alexandria.figures.selectors import figure_search_available, figures_near, search_figures
from alexandria.figures.services.indexing import (
    index_embeddings,
    rebuild_figure_index,
    remove_figures,
)
from alexandria.retention.takedowns import take_down
from tests.support.figures import (
    embed,
    make_figure,
    make_source,
    random_unit,
)

TEXT = (
    "Results. Figure 1: Honey bee waggle dance angles against the sun. "
    "Figure 2: Pollen load per forager over one season. "
    "Figure 3: Hive temperature during swarming."
)
CAPTIONS = [
    "Figure 1: Honey bee waggle dance angles against the sun.",
    "Figure 2: Pollen load per forager over one season.",
    "Figure 3: Hive temperature during swarming.",
]
DIMENSION = 32

pytestmark = pytest.mark.django_db


@pytest.fixture
def weights(settings, tmp_path, figure_prefix):
    """Pretrained weights configured (a file), so search is available once figures exist."""
    path = tmp_path / "weights.bin"
    path.write_bytes(b"pretend checkpoint")
    settings.SEARCH_CLIP_MODEL = "ViT-B-32"
    settings.SEARCH_CLIP_PRETRAINED = str(path)
    settings.FIGURE_SEARCH_MIN_SIMILARITY = -1.0
    return clip_identity()


def paper(**source_options):
    source = make_source("Bee paper", TEXT, **source_options)
    return source, [
        make_figure(source, caption, index=n, page=n + 2) for n, caption in enumerate(CAPTIONS)
    ]


def indexed(figures, seed=0, model=None, dimension=DIMENSION):
    rows = [
        embed(figure, random_unit(dimension, seed + n), model=model)
        for n, figure in enumerate(figures)
    ]
    assert index_embeddings([row.pk for row in rows]) == len(rows)
    return rows


def vector_of(row):
    return np.frombuffer(bytes(row.vector), dtype="<f4")


def test_identity_names_a_weights_file_by_its_content(settings, tmp_path):
    first, copy, other = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "c.bin"
    first.write_bytes(b"weights")
    copy.write_bytes(b"weights")
    other.write_bytes(b"other weights")
    assert clip_identity("ViT-B-32", str(first)) == clip_identity("ViT-B-32", str(copy))
    assert clip_identity("ViT-B-32", str(first)).startswith("ViT-B-32/")
    assert clip_identity("ViT-B-32", str(first)) != clip_identity("ViT-B-32", str(other))
    assert clip_identity("ViT-B-32", "laion2b_s34b_b79k") == "ViT-B-32/laion2b_s34b_b79k"
    settings.SEARCH_CLIP_MODEL, settings.SEARCH_CLIP_PRETRAINED = "ViT-L-14", "openai"
    assert clip_identity() == "ViT-L-14/openai"


def test_collection_names_are_valid_and_differ_per_model():
    names = {collection_name(f"ViT-B-32/{tag}", "alexandria") for tag in ("a1b2c3", "openai")}
    assert len(names) == 2
    for name in names:
        assert name.startswith("alexandria_figures_ViT-B-32-")
        assert name.replace("_", "").replace("-", "").isalnum()


def test_an_indexed_figure_is_found_by_its_own_embedding(weights):
    _, figures = paper()
    rows = indexed(figures)
    for figure, row in zip(figures, rows, strict=True):
        hits = figures_near(vector_of(row), k=3)
        assert hits[0].id == figure.pk
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-3)
        assert len(hits) == 3 and hits[0].similarity > hits[1].similarity


def test_a_hit_cites_the_caption_page_and_source_and_holds_no_image(weights, settings):
    source, figures = paper()
    rows = indexed(figures)
    hit = figures_near(vector_of(rows[1]), k=1)[0]
    assert (hit.id, hit.page, hit.index, hit.source_id) == (figures[1].pk, 3, 1, source.pk)
    anchor = figures[1].caption_anchor
    assert (hit.caption.start, hit.caption.end) == (anchor.start, anchor.end)
    assert hit.caption.span_sha256 == anchor.span_sha256
    assert hit.caption.fragment == anchor.fragment and hit.caption.fragment.startswith("Figure 2")
    assert hit.caption.link.startswith(source.url + "#:~:text=")
    assert (hit.title, hit.url, hit.source_sha256) == (source.title, source.url, source.sha256)
    assert hit.source_page == f"{settings.PUBLIC_BASE_URL}/sources/{source.pk}"
    assert not any("image" in field for field in vars(hit))


def test_a_figure_without_a_caption_anchor_still_cites_its_source(weights):
    source = make_source("Plates", "Plates without captions.")
    figure = make_figure(source, "", page=None)
    (row,) = indexed([figure])
    (hit,) = figures_near(vector_of(row), k=1)
    assert (hit.caption, hit.page, hit.source_id) == (None, None, source.pk)


def test_models_keep_collections_of_their_own(weights):
    _, figures = paper()
    ours = indexed(figures[:2])
    theirs = indexed(figures[2:], seed=10, model="ViT-B-16/openai", dimension=16)
    index = FigureIndex()
    assert index.count(weights) == 2 and index.count("ViT-B-16/openai") == 1
    assert index.dimension(weights) == DIMENSION and index.dimension("ViT-B-16/openai") == 16
    # The server model's search never returns another model's figure.
    found = figures_near(vector_of(ours[0]), k=5)
    assert {hit.id for hit in found} == {figures[0].pk, figures[1].pk}
    found = figures_near(vector_of(theirs[0]), k=5, identity="ViT-B-16/openai")
    assert [hit.id for hit in found] == [figures[2].pk]


def test_an_embedding_of_another_dimension_than_its_model_collection_is_refused(weights):
    _, figures = paper()
    indexed(figures[:1])
    wrong = embed(figures[1], random_unit(DIMENSION // 2, 3))
    assert index_embeddings([wrong.pk]) == 0
    assert FigureIndex().count(weights) == 1


def test_age_rating_language_and_source_filters(weights):
    _, child_figures = paper(age_rating=0, language="de-AT")
    adult = make_source("Adult paper", TEXT, age_rating=16, language="en")
    unrated = make_source("Unrated paper", TEXT, age_rating=None, language="en")
    adult_figure = make_figure(adult, CAPTIONS[0])
    unrated_figure = make_figure(unrated, CAPTIONS[0])
    rows = indexed([child_figures[0], adult_figure, unrated_figure])
    query = vector_of(rows[1])

    def found(**filters):
        return {hit.id for hit in figures_near(query, k=5, **filters)}

    assert found() == {child_figures[0].pk, adult_figure.pk, unrated_figure.pk}
    assert found(max_age_rating=12) == {child_figures[0].pk}
    assert found(max_age_rating=16) == {child_figures[0].pk, adult_figure.pk}
    assert found(max_age_rating=18) == found()
    assert found(language="de") == {child_figures[0].pk}
    assert found(language="en") == {adult_figure.pk, unrated_figure.pk}
    assert found(source_ids=frozenset({adult.pk})) == {adult_figure.pk}
    assert found(source_ids=frozenset()) == set()


def test_the_database_decides_an_index_entry_without_its_embedding_row_is_not_shown(weights):
    _, figures = paper()
    rows = indexed(figures)
    rows[0].delete()
    assert FigureIndex().count(weights) == 3
    found = figures_near(vector_of(rows[0]), k=3)
    assert {hit.id for hit in found} == {figures[1].pk, figures[2].pk}


def test_figures_under_the_similarity_floor_are_not_shown(weights, settings):
    _, figures = paper()
    rows = indexed(figures)
    settings.FIGURE_SEARCH_MIN_SIMILARITY = 0.99
    assert [hit.id for hit in figures_near(vector_of(rows[0]), k=3)] == [figures[0].pk]


def test_the_search_looks_further_when_the_database_refuses_the_nearest(weights, monkeypatch):
    monkeypatch.setattr(selectors, "QUERY_AT_LEAST", 2)
    monkeypatch.setattr(selectors, "OVERFETCH_GROWTH", 2)
    adult = make_source("Adult paper", TEXT, age_rating=18)
    child = make_source("Child paper", TEXT, age_rating=0)
    adult_figures = [make_figure(adult, c, index=n) for n, c in enumerate(CAPTIONS)]
    child_figure = make_figure(child, CAPTIONS[0])
    base = random_unit(DIMENSION, 99)
    for n, figure in enumerate(adult_figures):
        embed(figure, base + 0.01 * random_unit(DIMENSION, n))
    embed(child_figure, base + 0.5 * random_unit(DIMENSION, 50))
    rebuild_figure_index()
    hits = figures_near(base, k=1, max_age_rating=12)
    assert [hit.id for hit in hits] == [child_figure.pk]


def test_a_taken_down_source_leaves_the_figure_index(weights, django_capture_on_commit_callbacks):
    source, figures = paper()
    other = make_source("Other paper", TEXT)
    kept = make_figure(other, CAPTIONS[0])
    rows = indexed([*figures, kept])
    with django_capture_on_commit_callbacks(execute=True):
        take_down("source", str(source.pk), reason="rights holder", by=None)
    assert FigureIndex().count(weights) == 1
    assert [hit.id for hit in figures_near(vector_of(rows[0]), k=5)] == [kept.pk]


def test_remove_figures_drops_them_from_every_collection(weights):
    _, figures = paper()
    indexed(figures)
    indexed(figures[:1], seed=5, model="ViT-B-16/openai", dimension=16)
    assert remove_figures([figures[0].pk]) == 2
    assert remove_figures([figures[0].pk]) == 0
    index = FigureIndex()
    assert index.count(weights) == 2 and index.count("ViT-B-16/openai") == 0


def test_rebuild_index_rebuilds_the_figure_collections_from_the_database(weights, capsys):
    _, figures = paper()
    indexed(figures)
    FigureIndex().upsert(weights, [999_999], random_unit(DIMENSION, 7)[None, :], [{"source_id": 0}])
    assert FigureIndex().count(weights) == 4
    call_command("rebuild_index", "--no-progress")
    assert "Indexed 0 items, 3 figures." in capsys.readouterr().out
    assert FigureIndex().count(weights) == 3


def test_search_is_unavailable_without_weights_or_figures_and_costs_nothing(
    settings,
    figure_prefix,
    monkeypatch,
):
    def forbidden(*args, **kwargs):
        raise AssertionError("figure search ran though it is unavailable")

    monkeypatch.setattr(selectors, "get_embedder", forbidden)
    settings.SEARCH_CLIP_PRETRAINED = ""
    monkeypatch.setattr(selectors, "FigureIndex", forbidden)
    assert not figure_search_available()
    assert search_figures("honey bee dance") == []
    # Weights, but no figure embedded by them yet: no embedding either.
    monkeypatch.undo()
    monkeypatch.setattr(selectors, "get_embedder", forbidden)
    settings.SEARCH_CLIP_PRETRAINED = "laion2b_s34b_b79k"
    assert not figure_search_available()
    assert search_figures("honey bee dance") == []


def test_search_is_unavailable_without_open_clip(weights, monkeypatch):
    _, figures = paper()
    indexed(figures)
    assert figure_search_available()
    monkeypatch.setattr(selectors, "_open_clip_installed", lambda: False)
    assert not figure_search_available()


def test_a_caption_query_finds_the_figure_its_text_tower_embeds_nearest(
    figure_prefix,
    tiny_clip,
):
    """The whole path with a real (tiny, random) open_clip text tower and weights file: the
    query is embedded by the server's model and matched in that model's collection."""
    from alexandria.embeddings import get_embedder

    _, figures = paper()
    captions = get_embedder("clip").embed_texts(CAPTIONS)
    rows = [embed(figure, vector) for figure, vector in zip(figures, captions, strict=True)]
    assert rows[0].model == tiny_clip and rows[0].dimension == DIMENSION
    index_embeddings([row.pk for row in rows])
    assert figure_search_available()
    for figure, caption in zip(figures, CAPTIONS, strict=True):
        hits = search_figures(caption, k=1)
        assert [hit.id for hit in hits] == [figure.pk]
    assert search_figures(CAPTIONS[0], k=3, max_age_rating=0)[0].id == figures[0].pk
