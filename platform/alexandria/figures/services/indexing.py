"""Keeping the figure index (``figures.index``) in step with the stored embeddings.

The result handler indexes new embeddings after its transaction commits; a takedown removes
its sources' figures; ``manage.py rebuild_index`` rebuilds every figure collection from
PostgreSQL, the source of truth.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator

import numpy as np

from alexandria.figures.index import FigureIndex
from alexandria.figures.models import FigureEmbedding
from alexandria.figures.selectors import UNRATED_AGE

logger = logging.getLogger(__name__)
REBUILD_BATCH = 1000
_FIELDS = (
    "id",
    "model",
    "dimension",
    "vector",
    "figure__id",
    "figure__page",
    "figure__source__id",
    "figure__source__language",
    "figure__source__profile__age_rating",
)


def _embeddings(embedding_ids: Iterable[int] | None = None):
    rows = FigureEmbedding.objects.select_related("figure__source__profile").only(*_FIELDS)
    return rows if embedding_ids is None else rows.filter(pk__in=list(embedding_ids))


def _metadata(embedding: FigureEmbedding) -> dict:
    """Scalars only (Chroma has no null): what the entry is of, for inspection."""
    figure, source = embedding.figure, embedding.figure.source
    profile = getattr(source, "profile", None)
    rating = getattr(profile, "age_rating", None)
    metadata = {
        "source_id": source.pk,
        "age_rating": UNRATED_AGE if rating is None else rating,
        "language": source.language,
    }
    if figure.page is not None:
        metadata["page"] = figure.page
    return metadata


def _vector(embedding: FigureEmbedding) -> np.ndarray | None:
    vector = np.frombuffer(bytes(embedding.vector), dtype="<f4")
    if vector.shape != (embedding.dimension,) or not np.all(np.isfinite(vector)):
        logger.error("figure embedding %s: not %s finite floats", embedding.pk, embedding.dimension)
        return None
    return vector


def _write(index: FigureIndex, embeddings: list[FigureEmbedding]) -> int:
    """Upsert the embeddings into their models' collections; how many were written. One whose
    dimension differs from its model's collection is refused (logged): a model identity
    always has one dimension, so the row is corrupt."""
    by_model: dict[str, list[tuple[FigureEmbedding, np.ndarray]]] = defaultdict(list)
    for embedding in embeddings:
        vector = _vector(embedding)
        if vector is not None:
            by_model[embedding.model].append((embedding, vector))
    written = 0
    for identity, rows in by_model.items():
        held = index.dimension(identity)
        if held is not None:
            refused = [e.pk for e, v in rows if len(v) != held]
            if refused:
                logger.error("figure embeddings %s: %s holds dimension %s", refused, identity, held)
            rows = [(e, v) for e, v in rows if len(v) == held]
        if not rows:
            continue
        index.upsert(
            identity,
            [e.figure_id for e, _ in rows],
            np.vstack([v for _, v in rows]),
            [_metadata(e) for e, _ in rows],
        )
        written += len(rows)
    return written


def index_embeddings(embedding_ids: list[int]) -> int:
    """Upsert these figure embeddings into the collection of their model; how many were
    written (call it after the transaction that stored them commits)."""
    embeddings = list(_embeddings(embedding_ids))
    return _write(FigureIndex(), embeddings) if embeddings else 0


def remove_figures(figure_ids: list[int]) -> int:
    """Take the figures out of every figure collection (a takedown); how many entries went."""
    return FigureIndex().delete(figure_ids) if figure_ids else 0


def _in_batches(batch_size: int) -> Iterator[list[FigureEmbedding]]:
    last_id = 0
    while True:
        batch = list(_embeddings().filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            return
        last_id = batch[-1].pk
        yield batch


def rebuild_figure_index(*, batch_size: int = REBUILD_BATCH) -> int:
    """Drop every figure collection and re-create them from the stored embeddings; how many
    were indexed."""
    index = FigureIndex()
    index.drop_all()
    written = sum(_write(index, batch) for batch in _in_batches(batch_size))
    logger.info("rebuilt the figure index: %s embeddings", written)
    return written
