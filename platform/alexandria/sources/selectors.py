"""Reads for sources, and the takedown register's answers to "is this taken down?"."""

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.db.models import CharField, Count, F, Q, QuerySet, Value

from alexandria.contributors.models import Contributor
from alexandria.sources.models import Source, Takedown

Scope = Takedown.Scope


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


def url_host(url: str) -> str:
    """The URL's host name, lower case ("" when it has none)."""
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""


def host_suffixes(host: str) -> list[str]:
    """The host and every domain above it: ``a.b.org`` → ``a.b.org``, ``b.org``, ``org``."""
    labels = host.split(".") if host else []
    return [".".join(labels[i:]) for i in range(len(labels))]


def sources_matching(scope: str, value: str) -> QuerySet[Source]:
    """The sources a takedown of ``scope`` ``value`` covers (value normalised as stored)."""
    if scope == Scope.SOURCE:
        return Source.objects.filter(pk=int(value))
    if scope == Scope.URL:
        return Source.objects.filter(url=value)
    if scope == Scope.URL_PREFIX:
        return Source.objects.filter(url__startswith=value)
    if scope == Scope.DOMAIN:
        # The host is checked exactly in Python; SQL narrows to URLs that mention the domain.
        candidates = Source.objects.filter(url__icontains=value).values_list("pk", "url")
        return Source.objects.filter(
            pk__in=[pk for pk, url in candidates if value in host_suffixes(url_host(url))]
        )
    if scope == Scope.SHA256:
        return Source.objects.filter(Q(sha256=value) | Q(file_sha256=value))
    raise ValueError(f"unknown takedown scope {scope!r}")


def takedown_refusing(*, url: str, digests: Iterable[str]) -> Takedown | None:
    """The earliest takedown that refuses a submission with this URL and these SHA-256s (of
    the submitted bytes, of the normalised text), or None."""
    digests = [digest for digest in digests if digest]
    url = url.strip()
    covered = (
        Q(scope=Scope.SHA256, value__in=digests)
        | Q(tombstones__sha256__in=digests)
        | Q(tombstones__file_sha256__in=digests)
    )
    if url:
        covered |= (
            Q(scope=Scope.URL, value=url)
            | Q(tombstones__url=url)
            | Q(scope=Scope.DOMAIN, value__in=host_suffixes(url_host(url)))
            | Q(scope=Scope.URL_PREFIX, submitted_url__startswith=F("value"))
        )
    return (
        Takedown.objects.annotate(submitted_url=Value(url, output_field=CharField()))
        .filter(covered)
        .order_by("created_at", "pk")
        .first()
    )
