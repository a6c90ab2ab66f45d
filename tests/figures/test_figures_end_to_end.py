"""Acceptance: a PDF with two figures and their captions goes through ingestion, a real
``alexandria-worker --kinds clip_embed`` embeds the figures, the server validates and stores
the embeddings, and each caption finds its own figure.

The CLIP model is the shipped tiny architecture, trained for a few contrastive steps on the
two figures and their captions (no weights can be downloaded), saved to a file that the server
(``SEARCH_CLIP_PRETRAINED``) and the node (``--clip-pretrained``) both load, as a deployment
does with a LAION checkpoint.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alexandria import embeddings
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.figures.identity import clip_identity
from alexandria.figures.models import FigureEmbedding
from alexandria.figures.selectors import search_figures
from alexandria.figures.services.ingestion import FIGURE_SIZE_HINT
from alexandria.jobs.models import Job, WorkerNode
from alexandria.jobs.services.nodes import register_node
from alexandria.sources.models import Source
from alexandria.sources.services import Citation, submit_upload
from tests.support.figure_documents import CAPTIONS, IMAGES, pdf_with_figures
from tests.support.tiny_clip import configure_server, require_open_clip, tiny_clip_weights

pytestmark = pytest.mark.django_db(transaction=True)
REPO_ROOT = Path(__file__).resolve().parents[2]

require_open_clip()


@pytest.fixture
def clip_server(settings, tmp_path):
    """The server configured with the tiny model's trained weights; its weights file."""
    pairs = [(make(), caption) for make, caption in zip(IMAGES, CAPTIONS, strict=True)]
    weights = tiny_clip_weights(tmp_path / "open_clip_pytorch_model.bin", pairs)
    configure_server(settings, weights)
    settings.REPLICATION_SAMPLE_RATE = 0.0
    yield weights
    embeddings._EMBEDDERS.pop("clip", None)


def run_worker(server: str, token: str, weights: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALEXANDRIA_")}
    env.update(PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "--server", server, "--token", token,
         "--kinds", "clip_embed", "--clip-pretrained", str(weights), "--concurrency", "1",
         "--once", "--no-progress"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_a_pdfs_figures_are_embedded_by_a_node_and_found_by_their_captions(
    clip_server, live_server
):
    member = contributor_for_discord_user("100000000000000001", display_name="member")
    volunteer = contributor_for_discord_user("100000000000000002", display_name="volunteer")
    node = register_node(volunteer, name="clip-box", capabilities={"kinds": ["clip_embed"]})
    WorkerNode.objects.filter(pk=node.node.pk).update(trust=1.0)

    outcome = submit_upload(
        pdf_with_figures(),
        content_type="application/pdf",
        filename="samples.pdf",
        citation=Citation(title="Two samples", url="https://example.org/samples"),
        submitted_by=member,
    )
    source = Source.objects.get(pk=outcome.source.pk)
    assert source.status == Source.Status.ANALYSING
    figures = list(source.figures.select_related("caption_anchor").order_by("index"))
    assert [f.page for f in figures] == [1, 2]
    for figure, caption in zip(figures, CAPTIONS, strict=True):
        anchor = figure.caption_anchor
        assert source.text[anchor.start : anchor.end] == caption
        assert figure.image is not None
    (job,) = Job.objects.filter(source=source, kind="clip_embed")
    assert job.payload["model"] == clip_identity()
    assert "iVBOR" not in json.dumps(job.payload)  # the images go in at lease time only
    assert job.size_hint == 2 * FIGURE_SIZE_HINT  # a lease sized per figure, not per byte

    done = run_worker(live_server.url, node.token, clip_server)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, (job.status, done.stderr[-3000:])
    stored = FigureEmbedding.objects.filter(figure__in=figures, model=clip_identity())
    assert stored.count() == 2
    for figure, caption in zip(figures, CAPTIONS, strict=True):
        (hit,) = search_figures(caption, k=1)
        assert hit.id == figure.pk, (caption, hit)
        assert hit.page == figure.page
        assert hit.caption.start == figure.caption_anchor.start
        assert hit.source_id == source.pk
