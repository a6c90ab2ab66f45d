"""Figures' image bytes: analysis copies, handed to nodes at lease time and purged with the
source's text (``sources.signals.texts_purging``); what stays is their hash, size and place."""

from collections.abc import Collection
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from alexandria.figures.models import Figure
from alexandria.sources.models import Source


def stored_images(figure_ids: Collection[int]) -> dict[int, bytes]:
    """{figure id: image} of these figures that still hold their image, in one query (the
    reader of ``jobs.services.payloads``)."""
    rows = Figure.objects.filter(pk__in=list(figure_ids), image__isnull=False).values_list(
        "pk", "image"
    )
    return {pk: bytes(data) for pk, data in rows}


def purge_images(sources: QuerySet[Source]) -> int:
    """Delete the images of these sources' figures; how many were still there."""
    return Figure.objects.filter(source__in=sources, image__isnull=False).update(
        image=None, image_purged_at=timezone.now()
    )


def purge_with_texts(sender: Any, *, sources: QuerySet[Source], **_: Any) -> None:
    """Receiver of ``texts_purging``: the images go with the texts."""
    purge_images(sources)
