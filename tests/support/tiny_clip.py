"""The tiny open_clip model the figure tests run (``alexandria-tiny-clip``, shipped with the
worker): its weights saved to a file the way a deployment places a checkpoint on disk, randomly
initialised or trained for a few contrastive steps on image/caption pairs so that a caption
finds its own figure (no weights can be downloaded)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from worker.clip_models import TINY_MODEL, register_model_configs


def require_open_clip() -> None:
    """Skip the calling test module without open_clip (the ``clip`` extra), except under
    CI=true, where its absence fails the tests instead of hiding them."""
    if os.environ.get("CI") != "true" and importlib.util.find_spec("open_clip") is None:
        pytest.skip("the clip extra (open_clip) is not installed", allow_module_level=True)


def tiny_clip_weights(
    path: Path, pairs: Sequence[tuple[Image.Image, str]] = (), steps: int = 60
) -> Path:
    """Save the tiny model's weights to ``path``, trained on ``pairs`` first if any."""
    import open_clip
    import torch

    register_model_configs()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL)
    if pairs:
        tokenizer = open_clip.get_tokenizer(TINY_MODEL)
        pixels = torch.stack([preprocess(image.convert("RGB")) for image, _ in pairs])
        tokens = tokenizer([caption for _, caption in pairs])
        loss_of = open_clip.ClipLoss()
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        for _ in range(steps):
            image_features, text_features, scale = model(pixels, tokens)[:3]
            loss = loss_of(image_features, text_features, scale)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
    torch.save(model.state_dict(), path)
    return path


def configure_server(settings, weights: Path) -> None:
    """Point the server's CLIP settings at the tiny model and ``weights``; the process's clip
    text tower is built afresh for them."""
    from alexandria import embeddings

    register_model_configs()
    settings.SEARCH_CLIP_MODEL = TINY_MODEL
    settings.SEARCH_CLIP_PRETRAINED = str(weights)
    embeddings._EMBEDDERS.pop("clip", None)


def node_output(weights: Path, payload: dict) -> dict:
    """What a node holding ``weights`` answers to a clip_embed payload (the worker's runner)."""
    import asyncio

    from jobkinds import clip_embed
    from worker.clip import ClipRunner

    return asyncio.run(ClipRunner(pretrained=str(weights)).run(clip_embed.KIND, payload)).output
