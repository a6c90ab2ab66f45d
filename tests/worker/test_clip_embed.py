"""The node's side of clip_embed: unit image embeddings, caption similarities where there is a
caption, and the model named with this node's weights (which the server checks)."""

import asyncio
import base64
import hashlib
import math

import pytest

from jobkinds import clip_embed
from worker.clip import ClipRunner, figure_embeddings
from worker.results import JobFailedError

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


class ColourEmbedder:
    """Images by their length, texts by their length: enough to check the plumbing."""

    def __init__(self, model_name, pretrained):
        self.calls = []

    def embed(self, images, texts):
        self.calls.append((len(images), list(texts)))
        return [[3.0, float(len(i) % 5)] for i in images], [[1.0, float(len(t))] for t in texts]


def test_figure_embeddings_are_unit_length_and_compare_only_captioned_figures():
    figures = [{"id": 1, "caption": "Figure 1: a disc"}, {"id": 2, "caption": ""}]
    answers = figure_embeddings(figures, [[3.0, 4.0], [0.0, 2.0]], [[3.0, 4.0]])
    assert answers == [
        {"id": 1, "embedding": [0.6, 0.8], "caption_similarity": 1.0},
        {"id": 2, "embedding": [0.0, 1.0], "caption_similarity": None},
    ]


def test_the_runner_embeds_figures_and_names_its_own_weights(tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"not really a checkpoint")
    made = []

    def factory(name, pretrained):
        made.append((name, pretrained))
        return ColourEmbedder(name, pretrained)

    payload = {
        "model": "ViT-B-32/0123456789ab",
        "figures": [
            {"id": 7, "caption": "", "image_b64": base64.b64encode(PNG).decode()},
            {"id": 8, "caption": "Fig. 2", "image_b64": base64.b64encode(PNG * 2).decode()},
        ],
    }
    runner = ClipRunner(pretrained=str(weights), embedder_factory=factory)
    result = asyncio.run(runner.run(clip_embed.KIND, payload))

    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    assert made == [("ViT-B-32", str(weights))]
    assert result.output["model"] == f"ViT-B-32/{digest}"
    assert clip_embed.KIND.output_errors(result.output) == []
    first, second = result.output["figures"]
    assert first["caption_similarity"] is None and second["caption_similarity"] is not None
    for answer in result.output["figures"]:
        assert math.isclose(math.hypot(*answer["embedding"]), 1.0, abs_tol=1e-6)


def test_an_image_that_is_not_png_or_jpeg_fails_the_job():
    payload = {
        "model": "ViT-B-32/untrained",
        "figures": [{"id": 1, "caption": "", "image_b64": base64.b64encode(b"GIF89a").decode()}],
    }
    runner = ClipRunner(embedder_factory=ColourEmbedder)
    with pytest.raises(JobFailedError, match="figure 1: image is neither PNG nor JPEG"):
        asyncio.run(runner.run(clip_embed.KIND, payload))


def test_the_identity_names_a_tag_a_file_by_content_or_no_weights(tmp_path):
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"same weights")
    second.write_bytes(b"same weights")
    assert clip_embed.clip_identity("ViT-B-32", "laion2b_s34b_b79k") == (
        "ViT-B-32/laion2b_s34b_b79k"
    )
    assert clip_embed.clip_identity("ViT-B-32", str(first)) == clip_embed.clip_identity(
        "ViT-B-32", str(second)
    )
    assert clip_embed.clip_identity("ViT-B-32", None) == "ViT-B-32/untrained"
    assert clip_embed.architecture_of("ViT-B-32/laion2b_s34b_b79k") == "ViT-B-32"
