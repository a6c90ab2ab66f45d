"""clip_embed results are checked like every other (issue 26): the model and weights the job
named, every figure once, a finite unit vector of the model's dimension, a caption similarity
exactly where there is a caption and, where the server holds the model, the similarity its own
text tower gives; replicas agree numerically; stored embeddings flag low caption agreement."""

import copy
import math

import numpy as np
import pytest

from alexandria import embeddings
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.figures.handlers import ClipEmbedHandler
from alexandria.figures.identity import clip_identity
from alexandria.figures.models import FigureEmbedding
from alexandria.figures.services.results import results_agree
from alexandria.jobs.models import Job, WorkerNode
from alexandria.jobs.services.nodes import register_node
from alexandria.sources.models import Source
from tests.pipeline.driving import node_payload, run_job
from tests.support.figure_documents import upload_pdf_with_figures
from tests.support.tiny_clip import (
    configure_server,
    node_output,
    require_open_clip,
    tiny_clip_weights,
)

require_open_clip()
pytestmark = pytest.mark.django_db
HANDLER = ClipEmbedHandler()


@pytest.fixture
def clip_job(settings, weights, django_capture_on_commit_callbacks) -> Job:
    """The clip_embed job of an uploaded PDF with two captioned figures."""
    configure_server(settings, weights)
    with django_capture_on_commit_callbacks(execute=True):
        source = upload_pdf_with_figures()
    yield Job.objects.get(source=source, kind="clip_embed")
    embeddings._EMBEDDERS.pop("clip", None)


@pytest.fixture
def honest(clip_job, weights) -> dict:
    return node_output(weights, node_payload(clip_job))


def test_an_honest_result_is_valid_and_names_the_servers_model(clip_job, honest):
    assert honest["model"] == clip_identity() == clip_job.payload["model"]
    report = HANDLER.validate(clip_job, honest)
    assert report.reasons == []
    assert report.kept_items == 2


def test_a_result_by_other_weights_is_rejected(clip_job, honest, tmp_path):
    torch = pytest.importorskip("torch")
    other = tiny_clip_weights(tmp_path / "other.bin")  # the same seed: change one tensor
    state = torch.load(other)
    first = next(iter(state))
    state[first] = state[first] + 0.5
    torch.save(state, other)
    forged = node_output(other, node_payload(clip_job))
    assert forged["model"] != honest["model"]
    (reason,) = HANDLER.validate(clip_job, forged).reasons
    assert "the job asked for" in reason


def mutate(output: dict, change) -> dict:
    changed = copy.deepcopy(output)
    change(changed["figures"][0])
    return changed


def shifted(similarity: float) -> float:
    """A similarity in [-1, 1] that no rounding brings back to ``similarity``."""
    return similarity - 0.5 if similarity > 0 else similarity + 0.5


def unit(vector):
    vector = np.asarray(vector, dtype=np.float64)
    return list(vector / np.linalg.norm(vector))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f.update(embedding=unit([*f["embedding"], 0.5])), "dimensions"),
        (lambda f: f.update(embedding=[2 * x for x in f["embedding"]]), "not 1"),
        (lambda f: f.update(embedding=[math.inf, *f["embedding"][1:]]), "not finite"),
        (lambda f: f.update(caption_similarity=None), "exactly when there is a caption"),
        (lambda f: f.update(caption_similarity=shifted(f["caption_similarity"])), "server's model"),
        (lambda f: f.update(id=f["id"] + 1000), "exactly once"),
    ],
)
def test_forged_results_are_rejected(clip_job, honest, change, reason):
    report = HANDLER.validate(clip_job, mutate(honest, change))
    assert not report.is_valid
    assert any(reason in text for text in report.reasons), report.reasons


def test_the_dimension_of_stored_embeddings_binds_later_results(clip_job, honest):
    shorter = copy.deepcopy(honest)
    for figure in shorter["figures"]:
        figure["embedding"] = unit(figure["embedding"][:-1])
    FigureEmbedding.objects.create(
        figure=clip_job.source.figures.first(),
        model=honest["model"],
        dimension=32,
        vector=np.ones(32, dtype="<f4").tobytes(),
    )
    reasons = HANDLER.validate(clip_job, shorter).reasons
    assert reasons and all("31 dimensions, the model has 32" in r for r in reasons)


def test_replicas_agree_within_numeric_tolerance(honest):
    close = mutate(honest, lambda f: f.update(caption_similarity=f["caption_similarity"] + 0.01))
    assert results_agree(honest, close)
    far = mutate(honest, lambda f: f.update(caption_similarity=f["caption_similarity"] + 0.05))
    assert not results_agree(honest, far)
    turned = mutate(honest, lambda f: f.update(embedding=unit(np.roll(f["embedding"], 1))))
    assert not results_agree(honest, turned)
    assert not results_agree(honest, {**honest, "model": "ViT-B-32/other"})
    fewer = {**honest, "figures": honest["figures"][:1]}
    assert not results_agree(honest, fewer)


def test_applied_embeddings_are_stored_and_low_agreement_is_flagged(
    settings, clip_job, honest, volunteer_node, django_capture_on_commit_callbacks
):
    similarities = [f["caption_similarity"] for f in honest["figures"]]
    settings.CLIP_LOW_AGREEMENT_THRESHOLD = (min(similarities) + max(similarities)) / 2
    settings.REPLICATION_SAMPLE_RATE = 0.0

    with django_capture_on_commit_callbacks(execute=True):
        result = run_job(volunteer_node, clip_job, honest)

    result.refresh_from_db()
    assert result.status == "valid"
    stored = {e.figure_id: e for e in FigureEmbedding.objects.all()}
    for figure in honest["figures"]:
        embedding = stored[figure["id"]]
        assert embedding.model == clip_identity() and embedding.dimension == 32
        vector = np.frombuffer(bytes(embedding.vector), dtype="<f4")
        assert np.allclose(vector, figure["embedding"], atol=1e-6)
        assert embedding.low_agreement == (
            figure["caption_similarity"] < settings.CLIP_LOW_AGREEMENT_THRESHOLD
        )
    assert sum(e.low_agreement for e in stored.values()) == 1
    assert Source.objects.get(pk=clip_job.source_id).status == Source.Status.ANALYSING


@pytest.fixture
def volunteer_node(db) -> WorkerNode:
    volunteer = contributor_for_discord_user("100000000000000002", display_name="volunteer")
    registered = register_node(volunteer, name="clip-box", capabilities={"kinds": ["clip_embed"]})
    WorkerNode.objects.filter(pk=registered.node.pk).update(trust=1.0)
    registered.node.refresh_from_db()
    return registered.node
