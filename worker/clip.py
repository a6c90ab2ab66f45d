"""CLIP runner: LAION-5B style filtering (``clip_score``: keep a pair when image and text
embeddings agree) and figure embeddings (``clip_embed``: a figure's unit-length image embedding
and its caption's similarity, for the server's figure index).

Everything up to the embeddings (payload decoding, cosine similarity, thresholding) is plain
Python; torch and open_clip are imported only when the first clip job actually runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from jobkinds import TINY, JobKind, clip_embed
from jobkinds.clip_score import DEFAULT_MODEL, DEFAULT_THRESHOLD
from worker.clip_models import register_model_configs
from worker.results import JobFailedError, RunnerUnavailableError, RunResult

_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


@dataclass(frozen=True)
class ImageTextPair:
    id: str
    text: str
    image: bytes


def decode_image(what: str, image_b64: str) -> bytes:
    """A base64 image of a payload; only PNG and JPEG are accepted."""
    try:
        image = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise JobFailedError(f"{what}: image_b64 is not base64: {exc}") from exc
    if not image.startswith(_IMAGE_SIGNATURES):
        raise JobFailedError(f"{what}: image is neither PNG nor JPEG")
    return image


def decode_pairs(payload: dict[str, Any]) -> list[ImageTextPair]:
    """The payload's pairs with images base64-decoded; only PNG and JPEG are accepted."""
    return [
        ImageTextPair(
            id=pair["id"],
            text=pair["text"],
            image=decode_image(f"pair {pair['id']!r}", pair["image_b64"]),
        )
        for pair in payload["pairs"]
    ]


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays as it is)."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


def figure_embeddings(
    figures: Sequence[dict[str, Any]],
    image_embeddings: Sequence[Sequence[float]],
    caption_embeddings: Sequence[Sequence[float]],
) -> list[dict[str, Any]]:
    """One answer per figure: its unit image embedding and, where it has a caption (the
    captions' embeddings come in the order of the captioned figures), their cosine."""
    captions = iter(caption_embeddings)
    answers = []
    for figure, image_vec in zip(figures, image_embeddings, strict=True):
        similarity = None
        if figure["caption"]:
            similarity = round(cosine_similarity(image_vec, next(captions)), 6)
        answers.append(
            {
                "id": figure["id"],
                "embedding": [round(x, 7) for x in unit(image_vec)],
                "caption_similarity": similarity,
            }
        )
    return answers


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return 0.0
    return max(-1.0, min(1.0, sum(x * y for x, y in zip(a, b, strict=True)) / norm))


def score_pairs(
    ids: Sequence[str],
    image_embeddings: Sequence[Sequence[float]],
    text_embeddings: Sequence[Sequence[float]],
    threshold: float,
) -> list[dict[str, Any]]:
    """One score per pair; ``keep`` when the similarity is above the threshold."""
    scores = []
    for pair_id, image_vec, text_vec in zip(ids, image_embeddings, text_embeddings, strict=True):
        similarity = round(cosine_similarity(image_vec, text_vec), 6)
        scores.append({"id": pair_id, "similarity": similarity, "keep": similarity > threshold})
    return scores


class Embedder(Protocol):
    """Turns images and texts into vectors in one shared space."""

    def embed(
        self, images: Sequence[bytes], texts: Sequence[str]
    ) -> tuple[list[list[float]], list[list[float]]]: ...


class OpenClipEmbedder:
    """open_clip model on the GPU when there is one; created once per model name."""

    def __init__(self, model_name: str, pretrained: str | None) -> None:
        try:
            import open_clip
            import torch
            from PIL import Image
        except ImportError as exc:
            raise RunnerUnavailableError(
                f"clip jobs need open_clip: pip install 'alexandria[clip]' ({exc})"
            ) from exc
        register_model_configs()
        self._torch = torch
        self._image_module = Image
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained
            )
        except RuntimeError as exc:
            raise JobFailedError(f"cannot create open_clip model {model_name!r}: {exc}") from exc
        self._model = model.to(self.device).eval()
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(model_name)

    def embed(
        self, images: Sequence[bytes], texts: Sequence[str]
    ) -> tuple[list[list[float]], list[list[float]]]:
        torch = self._torch
        try:
            pixels = [
                self._preprocess(self._image_module.open(io.BytesIO(data)).convert("RGB"))
                for data in images
            ]
        except (OSError, ValueError) as exc:
            raise JobFailedError(f"cannot decode image: {exc}") from exc
        with torch.no_grad():
            image_features = self._model.encode_image(torch.stack(pixels).to(self.device))
            if not texts:  # figures without captions
                return image_features.float().cpu().tolist(), []
            text_features = self._model.encode_text(self._tokenizer(list(texts)).to(self.device))
        return image_features.float().cpu().tolist(), text_features.float().cpu().tolist()


class ClipRunner:
    """Runs ``clip`` kinds one at a time in a worker thread (the model is the bottleneck)."""

    def __init__(
        self,
        pretrained: str | None = None,
        embedder_factory: Callable[[str, str | None], Embedder] = OpenClipEmbedder,
    ) -> None:
        self.pretrained = pretrained
        self._embedder_factory = embedder_factory
        self._embedders: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    async def aclose(self) -> None:
        self._embedders.clear()

    async def run(self, kind: JobKind, payload: dict[str, Any], contract: str = TINY) -> RunResult:
        """Score the payload's pairs, or embed its figures; clip kinds answer the same under
        either contract."""
        if kind.name == clip_embed.KIND.name:
            return await self._embed_figures(payload)
        pairs = decode_pairs(payload)
        model_name = payload.get("model", DEFAULT_MODEL)
        threshold = payload.get("threshold", DEFAULT_THRESHOLD)
        image_vecs, text_vecs = await asyncio.to_thread(self._embed, model_name, pairs)
        scores = score_pairs([p.id for p in pairs], image_vecs, text_vecs, threshold)
        return RunResult(output={"model": model_name, "scores": scores}, model=model_name)

    async def _embed_figures(self, payload: dict[str, Any]) -> RunResult:
        """The figures' embeddings by the architecture the job names, with this node's
        weights: the answer names both, and the server rejects weights other than its own."""
        figures = payload["figures"]
        images = [decode_image(f"figure {f['id']}", f["image_b64"]) for f in figures]
        captions = [f["caption"] for f in figures if f["caption"]]
        model_name = clip_embed.architecture_of(payload["model"])
        identity = clip_embed.clip_identity(model_name, self.pretrained)
        image_vecs, caption_vecs = await asyncio.to_thread(
            self._embed_with, model_name, images, captions
        )
        answers = figure_embeddings(figures, image_vecs, caption_vecs)
        return RunResult(output={"model": identity, "figures": answers}, model=identity)

    def _embed(
        self, model_name: str, pairs: list[ImageTextPair]
    ) -> tuple[list[list[float]], list[list[float]]]:
        return self._embed_with(model_name, [p.image for p in pairs], [p.text for p in pairs])

    def _embed_with(
        self, model_name: str, images: list[bytes], texts: list[str]
    ) -> tuple[list[list[float]], list[list[float]]]:
        with self._lock:
            embedder = self._embedders.get(model_name)
            if embedder is None:
                embedder = self._embedder_factory(model_name, self.pretrained)
                self._embedders[model_name] = embedder
            return embedder.embed(images, texts)
