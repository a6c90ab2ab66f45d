"""Reads for a release: which items go in (accepted, visible, supported; never hidden, merged,
withdrawn or taken down) and each config's rows, streamed in chunks of ids so memory holds a
chunk, not the knowledge base. A source's text is never read."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.layers.models import MergeRecord
from alexandria.search.models import StanceVerdict
from alexandria.search.selectors import UNRATED_AGE, ancestors, visible_items
from alexandria.sources.models import Source, SourceTombstone
from alexandria.textproc.fragments import text_fragment_url

from .models import Release

CHUNK = 2000
Row = dict[str, Any]


@dataclass(frozen=True)
class Slice:
    """Which part of the knowledge base a release holds: everything, or the items grounded in
    sources of one genre, language or domain (its subdomains included)."""

    genre: str = ""
    language: str = ""
    domain: str = ""
    include_pending: bool = False

    @property
    def filtered(self) -> bool:
        return bool(self.genre or self.language or self.domain)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v}

    def slug(self) -> str:
        parts = [f"{k}-{v}" for k, v in self.as_dict().items() if k != "include_pending"]
        if self.include_pending:
            parts.append("with-pending")
        return "-".join(parts)


def previous_release(slice_: Slice) -> Release | None:
    """The last release of the same slice: a new one records what changed since it."""
    for release in Release.objects.all():
        if release.slice == slice_.as_dict():
            return release
    return None


FULL_EVERY = timedelta(days=27)


def full_release_due(slice_: Slice) -> bool:
    """No full snapshot of the slice on disk from the last four weeks (a weekly schedule's
    clock drifts: 27 days), or no release on disk to diff from."""
    previous = previous_release(slice_)
    if previous is None or not (Path(previous.path) / "state").is_dir():
        return True
    fulls = Release.objects.filter(
        kind=Release.Kind.FULL, created_at__gt=timezone.now() - FULL_EVERY
    )
    return not any(r.slice == slice_.as_dict() and Path(r.path).is_dir() for r in fulls)


def _host_in(url: str, domain: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


def slice_sources(slice_: Slice) -> set[int] | None:
    """Ids of the sources the slice keeps (None: all of them)."""
    if not slice_.filtered:
        return None
    sources = Source.objects.all()
    if slice_.genre:
        sources = sources.filter(profile__genre__iexact=slice_.genre)
    if slice_.language:
        sources = sources.filter(language__iexact=slice_.language)
    rows = sources.values_list("pk", "url").order_by()
    domain = slice_.domain.lower().strip(".")
    return {pk for pk, url in rows.iterator(CHUNK) if not domain or _host_in(url, domain)}


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for at in range(0, len(ids), CHUNK):
        yield ids[at : at + CHUNK]


def _grounding(item_ids: list[int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Each item's own anchors, and every anchor down its derivation (its own included)."""
    lineage = ancestors(item_ids)
    everyone = set().union(*lineage.values())
    through = KnowledgeItem.anchors.through
    anchors_of: dict[int, set[int]] = defaultdict(set)
    for item_id, anchor_id in through.objects.filter(knowledgeitem_id__in=everyone).values_list(
        "knowledgeitem_id", "anchor_id"
    ):
        anchors_of[item_id].add(anchor_id)
    own = {item_id: anchors_of.get(item_id, set()) for item_id in item_ids}
    down = {
        item_id: set().union(*(anchors_of.get(i, set()) for i in lineage[item_id]))
        for item_id in item_ids
    }
    return own, down


@dataclass
class Selection:
    """The records of one release, read config by config: items first, which decide the
    anchors and sources that go in."""

    slice: Slice
    item_ids: list[int] = field(default_factory=list)
    anchor_ids: set[int] = field(default_factory=set)
    source_ids: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.sources_in = slice_sources(self.slice)
        items = visible_items()
        if not self.slice.include_pending:
            items = items.filter(status=KnowledgeItem.Status.ACCEPTED)
        candidates = list(items.order_by("pk").values_list("pk", flat=True))
        if self.sources_in is None:
            self.item_ids = candidates
        else:
            for chunk in _chunks(candidates):
                _, down = _grounding(chunk)
                sources = self._anchor_sources(set().union(*down.values()))
                self.item_ids += [
                    i for i in chunk if {sources[a] for a in down[i]} & self.sources_in
                ]
        self.released = set(self.item_ids)

    def _anchor_sources(self, anchor_ids: set[int]) -> dict[int, int]:
        rows = Anchor.objects.filter(pk__in=anchor_ids).values_list("pk", "source_id")
        return dict(rows.order_by())

    def _keeps(self, source_id: int) -> bool:
        return self.sources_in is None or source_id in self.sources_in

    def item_rows(self) -> Iterator[Row]:
        fields = ("pk", "kind", "layer", "text", "status", "details", "confidence")
        fields += ("previous_version_id", "prompt_version", "created_at", "updated_at")
        parents = KnowledgeItem.derived_from.through.objects
        for chunk in _chunks(self.item_ids):
            own, down = _grounding(chunk)
            anchor_source = self._anchor_sources(set().union(*down.values()))
            ages = dict(
                Source.objects.filter(pk__in=set(anchor_source.values()))
                .values_list("pk", "profile__age_rating")
                .order_by()
            )
            derived: dict[int, list[int]] = defaultdict(list)
            for child, parent in parents.filter(from_knowledgeitem_id__in=chunk).values_list(
                "from_knowledgeitem_id", "to_knowledgeitem_id"
            ):
                if parent in self.released:
                    derived[child].append(parent)
            merged: dict[int, list[int]] = defaultdict(list)
            for pk, into in KnowledgeItem.objects.filter(merged_into_id__in=chunk).values_list(
                "pk", "merged_into_id"
            ):
                merged[into].append(pk)
            items = KnowledgeItem.objects.filter(pk__in=chunk).order_by("pk").values(*fields)
            for item in items:
                pk = item["pk"]
                anchors = sorted(a for a in down[pk] if self._keeps(anchor_source[a]))
                sources = sorted({anchor_source[a] for a in anchors})
                self.anchor_ids.update(anchors)
                self.source_ids.update(sources)
                rated = [ages.get(s) for s in sources]
                yield {
                    "id": pk,
                    "kind": item["kind"],
                    "layer": item["layer"],
                    "text": item["text"],
                    "status": item["status"],
                    "details": json.dumps(item["details"], sort_keys=True, ensure_ascii=False),
                    "confidence": item["confidence"],
                    "anchor_ids": sorted(a for a in own[pk] if a in anchors),
                    "source_ids": sources,
                    "derived_from": sorted(derived[pk]),
                    "merged_ids": sorted(merged[pk]),
                    "previous_version_id": item["previous_version_id"],
                    "prompt_version": item["prompt_version"],
                    "age_rating": max(
                        (UNRATED_AGE if r is None else r for r in rated), default=UNRATED_AGE
                    ),
                    "created_at": item["created_at"],
                    "_changed_at": item["updated_at"],
                }

    def anchor_rows(self) -> Iterator[Row]:
        fields = ("pk", "source_id", "start", "end", "span_sha256", "text_start", "text_end")
        for chunk in _chunks(sorted(self.anchor_ids)):
            rows = Anchor.objects.filter(pk__in=chunk).order_by("pk").values(*fields, "source__url")
            for anchor in rows:
                url = anchor.pop("source__url")
                anchor["id"] = anchor.pop("pk")
                anchor["link"] = text_fragment_url(url, anchor["text_start"], anchor["text_end"])
                yield anchor

    def source_rows(self) -> Iterator[Row]:
        fields = ("title", "authors", "url", "doi", "licence_note", "language", "format")
        fields += ("sha256", "file_sha256", "char_count", "created_at")
        profile = ("genre", "category", "keywords", "summary", "age_rating")
        for chunk in _chunks(sorted(self.source_ids)):
            rows = (
                Source.objects.filter(pk__in=chunk)
                .order_by("pk")
                .values("pk", "updated_at", *fields, *(f"profile__{f}" for f in profile))
            )
            for source in rows:
                row = {"id": source["pk"], "_changed_at": source["updated_at"]}
                row.update({f: source[f] for f in fields})
                row.update({f: source[f"profile__{f}"] for f in profile})
                row["sha256"] = row["sha256"] or ""
                row["keywords"] = [str(k) for k in row["keywords"] or []]
                row.update({f: row[f] or "" for f in ("genre", "category", "summary")})
                yield row

    def relation_rows(self) -> Iterator[Row]:
        parents = KnowledgeItem.derived_from.through.objects
        for chunk in _chunks(self.item_ids):
            rows: list[Row] = []
            merges = MergeRecord.objects.filter(canonical_id__in=chunk, split_at__isnull=True)
            for merged, canonical, method, score, created in merges.values_list(
                "merged_id", "canonical_id", "method", "similarity", "created_at"
            ):
                rows.append(_relation("merged_into", merged, canonical, method, score, created))
            created_at = dict(
                KnowledgeItem.objects.filter(pk__in=chunk).values_list("pk", "created_at")
            )
            for child, parent in parents.filter(from_knowledgeitem_id__in=chunk).values_list(
                "from_knowledgeitem_id", "to_knowledgeitem_id"
            ):
                if parent in self.released:
                    rows.append(
                        _relation(
                            "derived_from", child, parent, "provenance", None, created_at[child]
                        )
                    )
            stances = StanceVerdict.objects.filter(claim_id__in=chunk, decided_at__isnull=False)
            for claim, other, relation, decided in stances.exclude(relation="").values_list(
                "claim_id", "other_id", "relation", "decided_at"
            ):
                if other in self.released:
                    rows.append(_relation(relation, other, claim, "judge", None, decided))
            yield from sorted(rows, key=lambda row: row["id"])


def _relation(kind: str, subject: int, obj: int, method: str, score, created: datetime) -> Row:
    return {
        "id": f"{kind}:{subject}:{obj}",
        "kind": kind,
        "subject_id": subject,
        "object_id": obj,
        "method": method,
        "score": score,
        "created_at": created,
    }


def _item_reason(status: str, merged_into: int | None, support: str) -> str:
    if merged_into is not None:
        return "merged"
    if status == KnowledgeItem.Status.HIDDEN:
        return "moderation"
    if status == KnowledgeItem.Status.WITHDRAWN:
        return "takedown"
    if status == KnowledgeItem.Status.REJECTED:
        return "rejected"
    if support != KnowledgeItem.Support.SUPPORTED:
        return "unsupported"
    if status == KnowledgeItem.Status.PENDING:
        return "unreviewed"
    return "out_of_slice"


def deletion_reasons(config: str, ids: list[str]) -> dict[str, str]:
    """Why each record of the previous release is gone from this one."""
    reasons = dict.fromkeys(ids, "removed")
    if config == "items":
        rows = KnowledgeItem.objects.filter(pk__in=[int(i) for i in ids]).values_list(
            "pk", "status", "merged_into_id", "support"
        )
        reasons.update({str(pk): _item_reason(*rest) for pk, *rest in rows.iterator(CHUNK)})
    elif config in ("sources", "anchors"):
        model = Source if config == "sources" else Anchor
        present = model.objects.filter(pk__in=[int(i) for i in ids]).values_list("pk", flat=True)
        reasons.update({str(pk): "out_of_slice" for pk in present.iterator(CHUNK)})
    if config == "sources":
        gone = SourceTombstone.objects.filter(former_source_id__in=[int(i) for i in ids])
        reasons.update(
            {str(pk): "takedown" for pk in gone.values_list("former_source_id", flat=True)}
        )
    return reasons
