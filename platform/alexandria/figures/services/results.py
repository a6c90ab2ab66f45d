"""clip_embed results: what is checked before a figure embedding is stored, and storing it.

A result must be made by the model and weights the job named (``figures.identity``), cover
every figure of the job once, and give each a finite unit-length vector of the model's
dimension and a caption similarity exactly where the figure has a caption. Where the server
holds the same model (``SEARCH_CLIP_MODEL`` and ``SEARCH_CLIP_PRETRAINED``), it embeds the
captions with its own text tower and recomputes each similarity from the node's vector: a
node that made its numbers up is caught on its first result, not only when a replica
disagrees. Replicas agree when their vectors point the same way and their similarities are
close (numeric results never match exactly across GPUs).
"""

import importlib.util
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from alexandria.core.tasking import Task, enqueue
from alexandria.embeddings import get_embedder
from alexandria.figures.identity import clip_identity
from alexandria.figures.models import Figure, FigureEmbedding
from alexandria.figures.services.indexing import index_embeddings
from alexandria.jobs.models import Job
from alexandria.sources.models import Source

UNIT_NORM_TOLERANCE = 1e-3
# Two nodes with different GPUs/precision give slightly different numbers.
SIMILARITY_TOLERANCE = 0.02
AGREEMENT_COSINE = 0.99


def known_dimension(identity: str) -> int | None:
    """The dimension of the model's embeddings: that of those stored, else None."""
    return (
        FigureEmbedding.objects.filter(model=identity).values_list("dimension", flat=True).first()
    )


def vector_problems(figure_id: int, vector: Sequence[float], dimension: int | None) -> list[str]:
    """What is wrong with one figure's vector: its dimension, finiteness, length."""
    if dimension is not None and len(vector) != dimension:
        return [f"figure {figure_id}: {len(vector)} dimensions, the model has {dimension}"]
    if not all(math.isfinite(x) for x in vector):
        return [f"figure {figure_id}: the embedding has values that are not finite"]
    norm = math.sqrt(sum(x * x for x in vector))
    if abs(norm - 1) > UNIT_NORM_TOLERANCE:
        return [f"figure {figure_id}: the embedding has length {norm:.4f}, not 1"]
    return []


def check_result(job: Job, output: dict[str, Any]) -> list[str]:
    """Every reason the result can't be stored (none: it can)."""
    expected = job.payload["model"]
    if output["model"] != expected:
        return [f"embedded with {output['model']!r}, the job asked for {expected!r}"]
    asked = {figure["id"]: figure for figure in job.payload["figures"]}
    answered = [figure["id"] for figure in output["figures"]]
    if sorted(answered) != sorted(asked):
        return [
            "the answer must cover every figure of the job exactly once "
            f"(asked {sorted(asked)}, answered {sorted(answered)})"
        ]
    dimensions = {len(figure["embedding"]) for figure in output["figures"]}
    dimension = known_dimension(expected)
    if dimension is None and len(dimensions) > 1:
        return [f"the embeddings have different dimensions {sorted(dimensions)}"]
    reasons = []
    for figure in output["figures"]:
        reasons += vector_problems(figure["id"], figure["embedding"], dimension)
        captioned = bool(asked[figure["id"]]["caption"])
        if captioned != (figure["caption_similarity"] is not None):
            reasons.append(
                f"figure {figure['id']}: a caption similarity is due exactly when there is a "
                "caption"
            )
    if not reasons:
        reasons += _recomputed(job, output)
    return reasons


def server_text_tower_for(identity: str) -> bool:
    """Whether this server holds the model ``identity`` names (open_clip and the weights)."""
    return (
        bool(settings.SEARCH_CLIP_PRETRAINED)
        and importlib.util.find_spec("open_clip") is not None
        and identity == clip_identity()
    )


def _recomputed(job: Job, output: dict[str, Any]) -> list[str]:
    """The similarities the server's own text tower gives, where it holds the model, compared
    with the node's."""
    if not server_text_tower_for(output["model"]):
        return []
    spans = {f["id"]: f["caption"] for f in job.payload["figures"] if f["caption"]}
    if not spans:
        return []
    text = Source.objects.values_list("text", flat=True).get(pk=job.source_id)
    ids = list(spans)
    captions = [text[spans[i]["$span"][0] : spans[i]["$span"][1]] for i in ids]
    caption_vecs = get_embedder("clip").embed_texts(captions)
    vectors = {f["id"]: f for f in output["figures"]}
    reasons = []
    for figure_id, caption_vec in zip(ids, caption_vecs, strict=True):
        image_vec = np.asarray(vectors[figure_id]["embedding"], dtype=np.float64)
        if len(image_vec) != len(caption_vec):
            reasons.append(
                f"figure {figure_id}: {len(image_vec)} dimensions, the server's model has "
                f"{len(caption_vec)}"
            )
            continue
        similarity = float(image_vec @ caption_vec / np.linalg.norm(image_vec))
        reported = vectors[figure_id]["caption_similarity"]
        if abs(similarity - reported) > SIMILARITY_TOLERANCE:
            reasons.append(
                f"figure {figure_id}: caption similarity {reported:.4f}, the server's model "
                f"gives {similarity:.4f}"
            )
    return reasons


def results_agree(output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
    """Same model, same figures, image vectors at least AGREEMENT_COSINE alike, similarities
    within SIMILARITY_TOLERANCE."""
    if output_a["model"] != output_b["model"]:
        return False
    figures_a = {f["id"]: f for f in output_a["figures"]}
    figures_b = {f["id"]: f for f in output_b["figures"]}
    if figures_a.keys() != figures_b.keys():
        return False
    for figure_id, a in figures_a.items():
        b = figures_b[figure_id]
        vec_a = np.asarray(a["embedding"], dtype=np.float64)
        vec_b = np.asarray(b["embedding"], dtype=np.float64)
        if vec_a.shape != vec_b.shape:
            return False
        norms = np.linalg.norm(vec_a) * np.linalg.norm(vec_b)
        if not norms or float(vec_a @ vec_b / norms) < AGREEMENT_COSINE:
            return False
        sims = (a["caption_similarity"], b["caption_similarity"])
        if (sims[0] is None) != (sims[1] is None):
            return False
        if sims[0] is not None and abs(sims[0] - sims[1]) > SIMILARITY_TOLERANCE:
            return False
    return True


def store_embeddings(job: Job, output: dict[str, Any]) -> list[int]:
    """The canonical result's embeddings, one per figure and model (replacing an older one),
    flagged low-agreement under ``CLIP_LOW_AGREEMENT_THRESHOLD``; indexed once committed, and
    the source's analysis moves on. The ids of the embeddings stored."""
    threshold = settings.CLIP_LOW_AGREEMENT_THRESHOLD
    existing = set(
        Figure.objects.filter(
            pk__in=[f["id"] for f in output["figures"]], source_id=job.source_id
        ).values_list("pk", flat=True)
    )
    stored = []
    for figure in output["figures"]:
        if figure["id"] not in existing:  # taken down meanwhile
            continue
        similarity = figure["caption_similarity"]
        embedding, _ = FigureEmbedding.objects.update_or_create(
            figure_id=figure["id"],
            model=output["model"],
            defaults={
                "dimension": len(figure["embedding"]),
                "vector": np.asarray(figure["embedding"], dtype="<f4").tobytes(),
                "caption_similarity": similarity,
                "low_agreement": similarity is not None and similarity < threshold,
                "job": job,
            },
        )
        stored.append(embedding.pk)
    if stored:
        # robust: the embeddings are stored; Chroma being down must not fail the validation
        # batch (rebuild_index puts them in later).
        transaction.on_commit(lambda: index_embeddings(stored), robust=True)
    if job.source_id is not None:
        enqueue(Task.ADVANCE_SOURCE, job.source_id)
    return stored
