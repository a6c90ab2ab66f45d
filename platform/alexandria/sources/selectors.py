"""Reads for sources."""

from django.db.models import Count, QuerySet

from alexandria.contributors.models import Contributor
from alexandria.sources.models import Source


def sources_visible_to(contributor: Contributor | None, *, staff: bool) -> QuerySet[Source]:
    """Staff see every source; members see the ones they submitted."""
    queryset = (
        Source.objects.select_related("profile")
        .annotate(chunk_total=Count("chunks"))
        .order_by("-created_at")
    )
    if staff:
        return queryset
    return queryset.filter(submitted_by=contributor)
