"""Takedowns: a source removed everywhere, for good, on a rights holder's request.

``take_down`` records the request in the register (``sources.Takedown``), then removes each
source it covers in a transaction of its own, with the source row locked against planning:

1. its outstanding jobs are cancelled (each under its job lock, so a validation applying a
   result finishes first and what it stored is removed below; a later result is refused like
   any cancelled job's: no credit, no penalty);
2. its text is purged, its facts, entities and anchors deleted (facts protect anchors, so they
   go first), its chunks, profile and fingerprint go with the source row;
3. items left without evidence are withdrawn: an item keeps the anchors of its other sources
   (merged items' included) and stays; an item with no anchor left and nothing live it is
   derived from is withdrawn, and so, layer by layer, is every item derived only from
   withdrawn ones; runs building abstractions from withdrawn items are stopped;
4. its jobs keep their ledger (status, credit) but lose their payloads, outputs and messages,
   and no longer point at the source;
5. a tombstone keeps the hashes and URL that refuse the source again; the row is deleted (and
   its title dropped from the admin's history, its figures with it); every item that changed
   is re-indexed after commit (withdrawn ones leave Chroma), and its figures leave the figure
   index.

Re-running a takedown removes whatever it covers now and changes nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Q

from alexandria.contributors.models import Contributor
from alexandria.core.errors import AlexandriaError, NotFoundError
from alexandria.figures.models import Figure
from alexandria.figures.services.indexing import remove_figures
from alexandria.jobs.models import Job, JobEvent, JobResult
from alexandria.jobs.services.lifecycle import TRIMMED, cancel_source_jobs
from alexandria.knowledge.models import Anchor, Entity, Fact, KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit, withdraw_items
from alexandria.layers.services.abstraction import abandon_abstractions
from alexandria.pipeline.models import RejectedItem
from alexandria.search.selectors import items_grounded_in_source
from alexandria.sources.models import Source, SourceTombstone, Takedown, TakedownEvent
from alexandria.sources.selectors import sources_matching, url_host
from alexandria.sources.services import purge_texts

Scope = Takedown.Scope
# Used with fullmatch: "$" would also match before a final newline.
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
DOMAIN_PATTERN = re.compile(r"[\w-]+(\.[\w-]+)*")
# Job messages that may quote the source (node errors, validation reasons) are replaced.
NODE_MESSAGE_EVENTS = (JobEvent.Kind.ERROR, JobEvent.Kind.INVALID, JobEvent.Kind.RELEASED)


class TakedownRefused(AlexandriaError):
    """The takedown request can't be carried out as given (400)."""


@dataclass
class TakedownOutcome:
    """What one request did: the register entry, and what it removed this time."""

    takedown: Takedown
    created: bool
    removed_sources: list[int] = field(default_factory=list)
    items_withdrawn: int = 0


def normalised_value(scope: str, value: str) -> str:
    """The value as the register stores it; ``TakedownRefused`` when it can't name anything."""
    value = value.strip()
    if not value:
        raise TakedownRefused("Say what to take down.", code="empty")
    if len(value) > Takedown._meta.get_field("value").max_length:
        raise TakedownRefused("That value is too long to be a URL, domain or hash.")
    if scope == Scope.SOURCE:
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) < 2**63:
            raise TakedownRefused(f"A source id is a positive number, not {value!r}.")
        return str(int(value))
    if scope in (Scope.URL, Scope.URL_PREFIX):
        if not url_host(value):
            raise TakedownRefused(f"{value!r} is not a URL (scheme and host).")
        return value
    if scope == Scope.DOMAIN:
        domain = (url_host(value) if "://" in value else value.lower()).strip(".")
        domain = domain.removeprefix("*.")
        if not DOMAIN_PATTERN.fullmatch(domain):
            raise TakedownRefused(f"{value!r} is not a domain name.")
        return domain
    if scope == Scope.SHA256:
        digest = value.lower()
        if not SHA256_PATTERN.fullmatch(digest):
            raise TakedownRefused("A SHA-256 is 64 hexadecimal digits.")
        return digest
    raise TakedownRefused(
        f"Unknown scope {scope!r}; one of: {', '.join(Scope.values)}.", code="scope"
    )


def take_down(scope: str, value: str, *, reason: str, by: Contributor | None) -> TakedownOutcome:
    """Register a takedown (or find the same one) and remove every source it covers now.

    The register entry is committed before any source goes, so submissions it covers are
    refused from then on, also while the sources are being removed.
    """
    value = normalised_value(scope, value)
    reason = reason.strip()
    if not reason:
        raise TakedownRefused("Say why it is taken down.", code="reason")
    if scope == Scope.SOURCE and not (
        Source.objects.filter(pk=int(value)).exists()
        or SourceTombstone.objects.filter(former_source_id=int(value)).exists()
    ):
        raise NotFoundError(f"There is no source #{value}.")
    with transaction.atomic():
        takedown, created = Takedown.objects.get_or_create(
            scope=scope, value=value, defaults={"reason": reason, "requested_by": by}
        )
        TakedownEvent.objects.create(
            takedown=takedown,
            action=TakedownEvent.Action.REQUESTED,
            actor=by,
            message=reason if created else f"requested again: {reason}",
        )
    outcome = TakedownOutcome(takedown, created)
    for source_id in sources_matching(scope, value).order_by("pk").values_list("pk", flat=True):
        counts = remove_source(takedown, source_id, by=by)
        if counts is not None:
            outcome.removed_sources.append(source_id)
            outcome.items_withdrawn += counts["items_withdrawn"]
    return outcome


def remove_source(takedown: Takedown, source_id: int, *, by: Contributor | None) -> dict | None:
    """Remove one source under ``takedown`` (see the module's steps); the counts of what went,
    or None when the source no longer exists."""
    note = f"source taken down (takedown #{takedown.pk})"
    with transaction.atomic():
        # NO KEY UPDATE: planning waits for this, while a validation already applying a
        # result (which references the row) can finish and be waited for below.
        source = (
            Source.objects.select_for_update(no_key=True)
            .filter(pk=source_id)
            .only("pk", "sha256", "file_sha256", "url")
            .first()
        )
        if source is None:
            return None
        counts = {"jobs_cancelled": _cancel_jobs(source_id, note)}
        figure_ids = list(Figure.objects.filter(source_id=source_id).values_list("pk", flat=True))
        affected = items_grounded_in_source(source_id)
        anchored = set(
            KnowledgeItem.objects.filter(anchors__source_id=source_id).values_list("pk", flat=True)
        )
        purge_texts(Source.objects.filter(pk=source_id))
        for name, model in (("facts", Fact), ("entities", Entity), ("anchors", Anchor)):
            _, deleted = model.objects.filter(source_id=source_id).delete()
            counts[name] = deleted.get(model._meta.label, 0)
        withdrawn = _withdraw_without_evidence(anchored, f"withdrawn: {note}")
        abandon_abstractions(withdrawn, f"its node was withdrawn: {note}")
        counts["items_withdrawn"] = len(withdrawn)
        counts["items_regrounded"] = len(affected - withdrawn)
        counts["jobs_scrubbed"] = _scrub_jobs(source_id, f"removed: {note}")
        # The admin's history names the source by its title: keep the entries, not the title.
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Source), object_id=str(source_id)
        ).update(object_repr=f"source #{source_id} ({note})")
        SourceTombstone.objects.create(
            takedown=takedown,
            former_source_id=source_id,
            sha256=source.sha256 or "",  # none yet while an upload awaits extraction
            file_sha256=source.file_sha256,
            url=source.url,
        )
        source.delete()
        reindex_items_after_commit(affected | withdrawn)
        # Robust: an entry left behind shows nothing (searches show only figures still stored).
        transaction.on_commit(lambda: remove_figures(figure_ids), robust=True)
        TakedownEvent.objects.create(
            takedown=takedown,
            action=TakedownEvent.Action.SOURCE_REMOVED,
            former_source_id=source_id,
            counts=counts,
            actor=by,
        )
    return counts


def _cancel_jobs(source_id: int, reason: str) -> int:
    """Cancel the source's outstanding jobs. Again until none is left: a validation that held
    a primary's lock may have added a replica meanwhile."""
    cancelled = 0
    while found := cancel_source_jobs([source_id], reason=reason):
        cancelled += found
    return cancelled


def _without_evidence(item_ids: set[int]) -> set[int]:
    """Those of the items that are not withdrawn yet but have neither an anchor left nor an
    item they are derived from that is not withdrawn."""
    return set(
        KnowledgeItem.objects.filter(pk__in=item_ids)
        .exclude(status=KnowledgeItem.Status.WITHDRAWN)
        .annotate(
            anchor_count=Count("anchors", distinct=True),
            live_sources=Count(
                "derived_from",
                filter=~Q(derived_from__status=KnowledgeItem.Status.WITHDRAWN),
                distinct=True,
            ),
        )
        .filter(anchor_count=0, live_sources=0)
        .values_list("pk", flat=True)
    )


def _withdraw_without_evidence(anchored: set[int], reason: str) -> set[int]:
    """Withdraw the items that lost their last anchor, then, layer by layer, the items built
    only on withdrawn ones; every item withdrawn."""
    withdrawn: set[int] = set()
    frontier = withdraw_items(_without_evidence(anchored), reason)
    through = KnowledgeItem.derived_from.through
    while frontier:
        withdrawn |= frontier
        built_on = set(
            through.objects.filter(to_knowledgeitem_id__in=frontier).values_list(
                "from_knowledgeitem_id", flat=True
            )
        )
        frontier = withdraw_items(_without_evidence(built_on), reason)
    return withdrawn


def _scrub_jobs(source_id: int, note: str) -> int:
    """Keep the source's jobs for the ledger, without anything that may quote the source;
    how many jobs there were."""
    jobs = Job.objects.filter(source_id=source_id)
    JobResult.objects.filter(job__in=jobs).update(output={TRIMMED: note}, rejection_reasons=[note])
    JobEvent.objects.filter(job__in=jobs, kind__in=NODE_MESSAGE_EVENTS).update(message=note)
    RejectedItem.objects.filter(job__in=jobs).update(message=note)
    return jobs.update(source=None, payload={})
