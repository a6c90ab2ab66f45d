"""Small in-test knowledge bases for merging, layers and queries, indexed in a throwaway
Chroma directory with the real (offline) default embedder."""

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest

from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.pipeline.models import SourceProfile
from alexandria.search.services.indexing import rebuild_index
from alexandria.search.vector_index import VectorIndex
from alexandria.sources.models import Source
from tests.support.anchors import anchor_on
from tests.support.fake_openai import fake_openai  # noqa: F401


@pytest.fixture
def search_index(settings, tmp_path) -> VectorIndex:
    settings.CHROMA_URL = ""
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.SEARCH_COLLECTION_PREFIX = "test"
    settings.LLM_BASE_URL = ""
    return VectorIndex()


@dataclass
class Kb:
    """Builds sources, anchors and items; ``sync()`` brings the index up to date."""

    index: VectorIndex

    def source(self, title: str, text: str, *, url: str = "", age_rating: int | None = None):
        source = Source.objects.create(
            title=title,
            url=url,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            char_count=len(text),
            byte_size=len(text.encode()),
            text=text,
            status=Source.Status.ANALYSED,
        )
        if age_rating is not None:
            SourceProfile.objects.create(source=source, age_rating=age_rating)
        return source

    def anchor(self, source: Source, quote: str) -> Anchor:
        return anchor_on(source, quote)

    def item(
        self,
        text: str,
        *,
        anchors=(),
        kind: str = "hypothesis",
        layer: int = 1,
        status: str = "pending",
        details: dict | None = None,
        derived_from=(),
    ) -> KnowledgeItem:
        item = KnowledgeItem.objects.create(
            kind=kind, layer=layer, text=text, status=status, details=details or {}
        )
        item.anchors.set(anchors)
        item.derived_from.set(derived_from)
        return item

    def sync(self) -> None:
        rebuild_index(self.index)


@pytest.fixture
def kb(db, search_index) -> Kb:
    return Kb(search_index)


class KeyedEmbedder:
    """Vectors chosen by the test, to set exact similarities (unknown texts: orthogonal)."""

    name = "keyed"

    def __init__(self, vectors: dict[str, list[float]], dimension: int = 8):
        self.dimension = dimension
        self.vectors = vectors

    def embed_texts(self, texts):
        rows = []
        for position, text in enumerate(texts):
            vector = np.zeros(self.dimension, dtype=np.float32)
            known = self.vectors.get(text)
            if known is None:
                vector[-1 - position % 3] = 1.0
            else:
                vector[: len(known)] = known
            rows.append(vector / np.linalg.norm(vector))
        return np.vstack(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)
