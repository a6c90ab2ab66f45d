"""Figures enter with their upload's text, and go to volunteers as clip_embed jobs.

``store_figures`` keeps what extraction found (``textproc.figures``): each image as an
analysis copy, its page and position, and its caption's anchor, located in the source's text
by the pipeline like any anchor. ``plan_clip_jobs`` queues the jobs that embed them, with the
analysis's first jobs: the analysis ends (and the images are purged with the text) only once
they have finished too. Payloads hold stand-ins for the images and spans of the captions
(``jobs.services.payloads``), hydrated when a node leases the job.
"""

from collections.abc import Mapping, Sequence

from django.conf import settings

from alexandria.figures.identity import clip_identity
from alexandria.figures.models import Figure
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.payloads import image, span
from alexandria.knowledge.models import Anchor
from alexandria.sources.models import Source
from alexandria.textproc.figures import ExtractedFigure
from jobkinds import clip_embed

# What a figure counts as in a lease's time-to-live (characters, like a text job's input): a
# CLIP model takes about as long for any image, so the lease is sized per figure, not by the
# image's base64 (at 200 characters a second a 100 KB image would hold its lease 11 minutes).
FIGURE_SIZE_HINT = 1000


def store_figures(
    source: Source,
    extracted: Sequence[ExtractedFigure],
    anchors: Mapping[tuple[int, int], Anchor],
) -> list[Figure]:
    """The source's figures as extracted (replacing any stored before), each captioned by
    the anchor of its caption's span."""
    Figure.objects.filter(source=source).delete()
    return Figure.objects.bulk_create(
        Figure(
            source=source,
            index=index,
            page=figure.page,
            bbox=list(figure.bbox) if figure.bbox else None,
            width=figure.width,
            height=figure.height,
            mime_type=figure.mime_type,
            sha256=figure.sha256,
            byte_size=len(figure.data),
            image=figure.data,
            caption_anchor=anchors.get(figure.caption) if figure.caption else None,
        )
        for index, figure in enumerate(extracted)
    )


def clip_jobs_wanted() -> bool:
    """Whether figures are embedded: only with pretrained weights, which nodes can share
    (untrained weights differ in every process, so their vectors would mean nothing)."""
    return bool(settings.SEARCH_CLIP_PRETRAINED)


def plan_clip_jobs(source: Source, *, priority: int = 0) -> int:
    """Queue clip_embed jobs for the source's figures that still hold their image, a few
    figures a job; how many jobs were created."""
    if not clip_jobs_wanted():
        return 0
    figures = list(
        Figure.objects.filter(source=source, image__isnull=False)
        .select_related("caption_anchor")
        .defer("image")
        .order_by("index")
    )
    if not figures:
        return 0
    identity = clip_identity()
    size = max(1, min(settings.FIGURES_PER_CLIP_JOB, clip_embed.MAX_FIGURES))
    created = 0
    for at in range(0, len(figures), size):
        payload = {
            "model": identity,
            "figures": [
                {
                    "id": figure.pk,
                    "caption": _caption(figure),
                    "image_b64": image(figure.pk),
                }
                for figure in figures[at : at + size]
            ],
        }
        create_job(
            clip_embed.KIND.name,
            payload,
            source=source,
            priority=priority,
            size_hint=FIGURE_SIZE_HINT * len(payload["figures"]),
        )
        created += 1
    return created


def _caption(figure: Figure) -> dict | str:
    anchor = figure.caption_anchor
    if anchor is None or anchor.end - anchor.start > clip_embed.MAX_CAPTION_CHARS:
        return ""
    return span(anchor.start, anchor.end)
