import asyncio
import base64
import importlib.util
import io

import pytest

from jobkinds.clip_score import KIND as CLIP_SCORE
from worker.clip import ClipRunner, cosine_similarity, decode_pairs, score_pairs
from worker.results import JobFailedError

# Smallest valid PNG and JPEG headers: decode_pairs only checks the signature.
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16


def pair(pair_id, text, image=PNG):
    return {"id": pair_id, "text": text, "image_b64": base64.b64encode(image).decode()}


def test_decode_pairs_accepts_png_and_jpeg():
    pairs = decode_pairs({"pairs": [pair("a", "cat", PNG), pair("b", "dog", JPEG)]})
    assert [(p.id, p.text, p.image) for p in pairs] == [("a", "cat", PNG), ("b", "dog", JPEG)]


@pytest.mark.parametrize(
    ("image_b64", "error"),
    [
        ("not base64!", "not base64"),
        (base64.b64encode(b"GIF89a....").decode(), "neither PNG nor JPEG"),
    ],
)
def test_decode_pairs_rejects_bad_images(image_b64, error):
    payload = {"pairs": [{"id": "x", "text": "t", "image_b64": image_b64}]}
    with pytest.raises(JobFailedError, match=error):
        decode_pairs(payload)


def test_cosine_similarity():
    assert cosine_similarity([1, 0], [2, 0]) == 1.0
    assert cosine_similarity([1, 0], [0, 3]) == 0.0
    assert cosine_similarity([1, 1], [-1, -1]) == pytest.approx(-1.0)
    assert cosine_similarity([0, 0], [1, 1]) == 0.0


def test_pairs_are_kept_only_above_the_threshold():
    scores = score_pairs(
        ["same", "close", "orthogonal"],
        [[1, 0], [1, 0], [1, 0]],
        [[1, 0], [0.28, 0.96], [0, 1]],
        threshold=0.28,
    )
    assert scores == [
        {"id": "same", "similarity": 1.0, "keep": True},
        {"id": "close", "similarity": 0.28, "keep": False},
        {"id": "orthogonal", "similarity": 0.0, "keep": False},
    ]


class LetterEmbedder:
    """Embeds images by their first byte and texts by their length: predictable vectors."""

    created: list = []

    def __init__(self, model_name, pretrained):
        LetterEmbedder.created.append((model_name, pretrained))

    def embed(self, images, texts):
        return [[1.0, float(image[0] == 0xFF)] for image in images], [
            [1.0, float(len(text) > 3)] for text in texts
        ]


def test_clip_runner_scores_with_payload_model_and_threshold():
    LetterEmbedder.created = []
    runner = ClipRunner(pretrained="laion2b", embedder_factory=LetterEmbedder)
    payload = {"pairs": [pair("png-long", "a long caption"), pair("jpeg-short", "cat", JPEG)]}

    async def score_twice():
        first = await runner.run(CLIP_SCORE, payload)
        second = await runner.run(CLIP_SCORE, {**payload, "model": "ViT-L-14", "threshold": 0.9})
        return first, second

    first, second = asyncio.run(score_twice())
    assert first.model == "ViT-B-32"
    assert first.output["scores"] == [
        {"id": "png-long", "similarity": pytest.approx(0.707107), "keep": True},
        {"id": "jpeg-short", "similarity": pytest.approx(0.707107), "keep": True},
    ]
    assert CLIP_SCORE.output_errors(first.output) == []
    assert [s["keep"] for s in second.output["scores"]] == [False, False]
    assert second.output["model"] == "ViT-L-14"
    assert LetterEmbedder.created == [("ViT-B-32", "laion2b"), ("ViT-L-14", "laion2b")]


@pytest.mark.skipif(
    importlib.util.find_spec("open_clip") is None,
    reason="open_clip is not installed (pip install 'alexandria[clip]'); the torch-free parts "
    "of clip scoring are tested above",
)
def test_open_clip_scores_real_images():
    from PIL import Image

    def png(color):
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), color).save(buffer, format="PNG")
        return buffer.getvalue()

    payload = {"pairs": [pair("red", "a red square", png("red")), pair("blue", "sky", png("blue"))]}
    result = asyncio.run(ClipRunner().run(CLIP_SCORE, payload))
    assert CLIP_SCORE.output_errors(result.output) == []
    assert [score["id"] for score in result.output["scores"]] == ["red", "blue"]
    assert all(-1 <= score["similarity"] <= 1 for score in result.output["scores"])
