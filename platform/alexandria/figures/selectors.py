"""Figure search: a query embedded by the CLIP text tower, the nearest figure embeddings of the
server's model, and the database's verdict on what a reader may see.

Available only where open_clip is installed and pretrained weights are configured
(``SEARCH_CLIP_PRETRAINED``; untrained weights would rank figures at random) and the model's
collection exists; otherwise every search answers no figures at no cost. A hit carries the
caption's anchor (offsets, hash, the few words kept), the page and the source's citation,
never the image: the bytes are an analysis copy, deleted when the analysis ends.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from alexandria.embeddings import get_embedder
from alexandria.figures.identity import clip_identity
from alexandria.figures.index import FigureIndex
from alexandria.figures.models import Figure
from alexandria.textproc.fragments import fragment_text, text_fragment_url

# A source not rated yet counts as adults-only, as it does for items (search.selectors).
UNRATED_AGE = 18
# Chroma's HNSW search explores ef_search = 100 candidates anyway: up to that many results
# cost no more than one. The database may refuse some (age, language, source filters), so the
# search looks further, 4 times as far each round, up to MAX_CANDIDATES.
QUERY_AT_LEAST = 100
OVERFETCH_GROWTH = 4
MAX_CANDIDATES = 4096


@dataclass(frozen=True)
class FigureCaption:
    """The caption's anchor: where it is in the source's text and the words kept of it."""

    start: int
    end: int
    span_sha256: str
    text_start: str
    text_end: str
    fragment: str
    link: str


@dataclass(frozen=True)
class FigureHit:
    id: int
    similarity: float
    page: int | None
    index: int
    caption: FigureCaption | None
    source_id: int
    title: str
    url: str
    source_sha256: str
    source_page: str


@functools.cache
def _open_clip_installed() -> bool:
    return importlib.util.find_spec("open_clip") is not None


def figure_search_available() -> bool:
    """Whether figure search can answer: open_clip, pretrained weights and a collection of
    the server model's figure embeddings."""
    if not settings.SEARCH_CLIP_PRETRAINED or not _open_clip_installed():
        return False
    return FigureIndex().has(clip_identity())


def visible_figures(
    *,
    max_age_rating: int | None = None,
    language: str | None = None,
    source_ids: frozenset[int] | None = None,
) -> QuerySet[Figure]:
    """Figures a reader with these filters may see: of a source that exists (a takedown
    deletes it and its figures) within the age limit (unrated: adults only), in the language
    (its regional forms too), among ``source_ids`` when given."""
    figures = Figure.objects.all()
    if max_age_rating is not None:
        figures = figures.alias(
            age=Coalesce("source__profile__age_rating", Value(UNRATED_AGE))
        ).filter(age__lte=max_age_rating)
    if language:
        figures = figures.filter(
            Q(source__language__iexact=language) | Q(source__language__istartswith=f"{language}-")
        )
    if source_ids is not None:
        figures = figures.filter(source_id__in=source_ids)
    return figures


def _caption(figure: Figure) -> FigureCaption | None:
    anchor = figure.caption_anchor
    if anchor is None:
        return None
    return FigureCaption(
        start=anchor.start,
        end=anchor.end,
        span_sha256=anchor.span_sha256,
        text_start=anchor.text_start,
        text_end=anchor.text_end,
        fragment=fragment_text(anchor.text_start, anchor.text_end),
        link=text_fragment_url(figure.source.url, anchor.text_start, anchor.text_end),
    )


def _hit(figure: Figure, similarity: float) -> FigureHit:
    source = figure.source
    return FigureHit(
        id=figure.pk,
        similarity=round(similarity, 4),
        page=figure.page,
        index=figure.index,
        caption=_caption(figure),
        source_id=source.pk,
        title=source.title,
        url=source.url,
        source_sha256=source.sha256 or "",
        source_page=settings.PUBLIC_BASE_URL + reverse("public:source", args=[source.pk]),
    )


def figures_near(
    vector: np.ndarray,
    *,
    k: int = 3,
    identity: str | None = None,
    max_age_rating: int | None = None,
    language: str | None = None,
    source_ids: frozenset[int] | None = None,
) -> list[FigureHit]:
    """The ``k`` figures nearest to a vector of the model's space that a reader with these
    filters may see, most similar first, none under ``FIGURE_SEARCH_MIN_SIMILARITY``."""
    index = FigureIndex()
    identity = identity or clip_identity()
    floor = settings.FIGURE_SEARCH_MIN_SIMILARITY
    wanted = max(k * OVERFETCH_GROWTH, QUERY_AT_LEAST)
    while True:
        found = index.query(identity, vector, wanted)
        close = [match for match in found if match.similarity >= floor]
        shown = {
            figure.pk: figure
            for figure in visible_figures(
                max_age_rating=max_age_rating, language=language, source_ids=source_ids
            )
            .filter(pk__in=[match.figure_id for match in close], embeddings__model=identity)
            .select_related("source", "caption_anchor")
            .only(
                "id",
                "index",
                "page",
                "source__id",
                "source__title",
                "source__url",
                "source__sha256",
                "caption_anchor",
            )
        }
        hits = [_hit(shown[m.figure_id], m.similarity) for m in close if m.figure_id in shown]
        # Done with k, or when the index has no more entries, or none more close enough.
        if (
            len(hits) >= k
            or len(found) < wanted
            or len(close) < len(found)
            or wanted >= MAX_CANDIDATES
        ):
            return hits[:k]
        wanted = min(wanted * OVERFETCH_GROWTH, MAX_CANDIDATES)


def search_figures(
    query: str,
    *,
    k: int = 3,
    max_age_rating: int | None = None,
    language: str | None = None,
    source_ids: frozenset[int] | None = None,
) -> list[FigureHit]:
    """Figures whose image matches ``query`` (one embedding by the CLIP text tower, one
    Chroma query as a rule), most similar first; none where figure search is unavailable."""
    if k < 1 or not figure_search_available():
        return []
    vector = get_embedder("clip").embed_texts([query])[0]
    return figures_near(
        vector, k=k, max_age_rating=max_age_rating, language=language, source_ids=source_ids
    )
