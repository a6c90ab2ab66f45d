"""Figures for search tests: sources with figures, caption anchors and stored embeddings, and
the tiny randomly initialised open_clip model (``tests.support.tiny_clip``; no weights can be
downloaded) configured as the server's CLIP model from a weights file, the way a deployment
places a checkpoint."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from alexandria import embeddings
from alexandria.figures.identity import clip_identity
from alexandria.figures.models import Figure, FigureEmbedding
from alexandria.pipeline.models import SourceProfile
from alexandria.sources.models import Source
from tests.support.anchors import anchor_on


def make_source(
    title: str,
    text: str,
    *,
    age_rating: int | None = 0,
    language: str = "en",
    url: str = "",
) -> Source:
    source = Source.objects.create(
        title=title,
        url=url or f"https://example.org/{hashlib.sha256(title.encode()).hexdigest()[:8]}",
        # Unique per title: tests give papers of the same text different titles.
        sha256=hashlib.sha256(f"{title}\n{text}".encode()).hexdigest(),
        char_count=len(text),
        byte_size=len(text.encode()),
        text=text,
        language=language,
        status=Source.Status.ANALYSED,
    )
    if age_rating is not None:
        SourceProfile.objects.create(source=source, age_rating=age_rating)
    return source


def make_figure(source: Source, caption: str, *, index: int = 0, page: int | None = 1) -> Figure:
    return Figure.objects.create(
        source=source,
        index=index,
        page=page,
        width=32,
        height=32,
        mime_type="image/png",
        sha256=hashlib.sha256(f"{source.pk}-{index}".encode()).hexdigest(),
        byte_size=100,
        image_purged_at=source.created_at,
        caption_anchor=anchor_on(source, caption) if caption else None,
    )


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def embed(figure: Figure, vector, *, model: str | None = None) -> FigureEmbedding:
    vector = unit(vector)
    return FigureEmbedding.objects.create(
        figure=figure,
        model=model or clip_identity(),
        dimension=len(vector),
        vector=vector.astype("<f4").tobytes(),
        caption_similarity=0.3,
    )


def random_unit(dimension: int, seed: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal(dimension))


@pytest.fixture
def tiny_clip(settings, tmp_path_factory):
    """The tiny model as the server's CLIP model, its (random) weights in a file; the clip
    embedder is built afresh for the test. Gives the model's identity."""
    pytest.importorskip("open_clip")
    # Here, not at the top: it needs Pillow and the worker's model configs (the clip extra).
    from tests.support.tiny_clip import configure_server, tiny_clip_weights

    weights = tmp_path_factory.getbasetemp() / "tiny-clip-random.pt"
    if not weights.exists():
        tiny_clip_weights(weights)
    configure_server(settings, weights)
    # Random weights: every similarity counts.
    settings.FIGURE_SEARCH_MIN_SIMILARITY = -1.0
    yield clip_identity()
    embeddings._EMBEDDERS.pop("clip", None)


@pytest.fixture
def figure_prefix(settings, tmp_path) -> str:
    """A throwaway Chroma directory and collection prefix of the test's own."""
    settings.CHROMA_URL = ""
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.SEARCH_COLLECTION_PREFIX = "figtest"
    return "figtest"
