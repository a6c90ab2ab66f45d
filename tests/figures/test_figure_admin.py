"""Figures in admin: low caption agreement is a column and a filter, and no page shows an
image (before or after the purge), only the caption's fragment."""

import base64
import hashlib

import numpy as np
import pytest
from django.utils import timezone

from alexandria.figures.models import Figure, FigureEmbedding
from alexandria.sources.models import Source
from tests.support.anchors import anchor_on
from tests.support.figure_documents import png, red_disc

pytestmark = pytest.mark.django_db
TEXT = "Samples.\n\nFigure 1: A red disc.\n\nFigure 2: Blue stripes.\n\nThe end."
CHANGELIST = "/admin/figures/figure/"


@pytest.fixture
def figures() -> list[Figure]:
    source = Source.objects.create(
        title="Samples",
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
        char_count=len(TEXT),
        byte_size=len(TEXT),
        text=TEXT,
        status=Source.Status.ANALYSING,
    )
    data = png(red_disc())
    made = []
    for index, (caption, similarity) in enumerate(
        [("Figure 1: A red disc.", 0.05), ("Figure 2: Blue stripes.", 0.4)]
    ):
        figure = Figure.objects.create(
            source=source,
            index=index,
            page=index + 1,
            width=96,
            height=96,
            mime_type="image/png",
            sha256=hashlib.sha256(data).hexdigest(),
            byte_size=len(data),
            image=data if index == 0 else None,
            image_purged_at=None if index == 0 else timezone.now(),
            caption_anchor=anchor_on(source, caption),
        )
        FigureEmbedding.objects.create(
            figure=figure,
            model="alexandria-tiny-clip/0123456789ab",
            dimension=4,
            vector=np.full(4, 0.5, dtype="<f4").tobytes(),
            caption_similarity=similarity,
            low_agreement=similarity < 0.28,
        )
        made.append(figure)
    return made


def test_low_agreement_figures_are_listed_apart_and_no_image_is_shown(figures, staff_client):
    low, fine = figures
    image_b64 = base64.b64encode(bytes(low.image)).decode()

    listed = staff_client.get(CHANGELIST, {"agreement": "low"})
    assert listed.status_code == 200
    assert [f.pk for f in listed.context["cl"].result_list] == [low.pk]
    others = staff_client.get(CHANGELIST, {"agreement": "ok"})
    assert [f.pk for f in others.context["cl"].result_list] == [fine.pk]

    everything = staff_client.get(CHANGELIST).content.decode()
    assert "0.050" in everything and "0.400" in everything
    for figure in figures:
        page = staff_client.get(f"{CHANGELIST}{figure.pk}/change/").content.decode()
        assert figure.caption_anchor.fragment in page
        assert image_b64[:40] not in page and "data:image" not in page
