"""Writing a release: every record of the slice is read once, streamed to Parquet and hashed;
a record whose digest equals the previous release's keeps that release's id and time, so a
diff holds exactly the rows added or changed, and the ids the previous release had that this
one lacks go to ``deletions``. The files are checked with the retention audit before the
release is published (renamed into place and registered)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from alexandria.core.errors import AlexandriaError, ConflictError
from alexandria.retention.audit import audit_retention

from .card import render_card
from .models import Release
from .schema import DELETIONS, RECORDS
from .selectors import Row, Selection, Slice, deletion_reasons, previous_release
from .snapshots import STATE_SCHEMA, read_state, release_columns
from .writer import ConfigWriter, WrittenFile, file_digest

Progress = Callable[[Iterable[Row], int, str], Iterable[Row]]


class ReleaseRefused(ConflictError):
    code = "release_refused"


class ReleaseNotClean(AlexandriaError):
    status_code = 500
    code = "release_not_clean"


def _no_progress(rows: Iterable[Row], total: int, label: str) -> Iterable[Row]:
    return rows


def _digest(row: Row) -> bytes:
    text = json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _release_id(now: datetime, slice_: Slice) -> str:
    base = now.strftime("%Y-%m-%dT%H%M%SZ")
    if slice_.slug():
        base += "-" + slice_.slug()
    release_id, n = base, 1
    while Release.objects.filter(release_id=release_id).exists():
        n += 1
        release_id = f"{base}-{n}"
    return release_id


class _Versioner:
    """Stamps each row with its version (release id, updated time), keeps the state of the
    full snapshot and says whether the row is new, changed or as before."""

    def __init__(self, release_id: str, now: datetime, previous: dict[str, tuple] | None):
        self.release_id, self.now = release_id, now
        self.previous = dict(previous or {})
        self.added = self.updated = 0

    def stamp(self, row: Row) -> tuple[Row, bool, dict[str, Any]]:
        changed_at = row.pop("_changed_at", None) or row.get("created_at") or self.now
        digest = _digest(row)
        before = self.previous.pop(str(row["id"]), None)
        if before is not None and before[0] == digest:
            release_id, updated, changed = before[1], before[2], False
        else:
            release_id, changed = self.release_id, True
            updated = changed_at if before is None or changed_at > before[2] else self.now
            if before is None:
                self.added += 1
            else:
                self.updated += 1
        row.update(release_id=release_id, updated_at=updated)
        state = {"id": str(row["id"]), "digest": digest, "release_id": release_id}
        return row, changed, {**state, "updated_at": updated}


def _write_records(
    root: Path, selection: Selection, diff: bool, versioners: dict[str, _Versioner], progress
) -> tuple[list[WrittenFile], dict[str, int]]:
    readers: dict[str, Callable[[], Iterator[Row]]] = {
        "items": selection.item_rows,
        "anchors": selection.anchor_rows,
        "sources": selection.source_rows,
        "relations": selection.relation_rows,
    }
    files, rows = [], {}
    for config in RECORDS:
        data = ConfigWriter(root, config.name, config.schema)
        state = ConfigWriter(root, config.name, STATE_SCHEMA, folder_name="state")
        totals = {"items": len(selection.item_ids), "anchors": len(selection.anchor_ids)}
        totals["sources"] = len(selection.source_ids)
        versioner = versioners[config.name]
        for row in progress(readers[config.name](), totals.get(config.name, 0), config.name):
            row, changed, record = versioner.stamp(row)
            state.write(record)
            if changed or not diff:
                data.write(row)
        files += data.close() + state.close()
        rows[config.name] = state.rows
    return files, rows


def _write_deletions(root: Path, release_id: str, versioners: dict[str, _Versioner]):
    writer = ConfigWriter(root, DELETIONS.name, DELETIONS.schema)
    deleted = {}
    for name, versioner in versioners.items():
        ids = sorted(versioner.previous)
        deleted[name] = len(ids)
        reasons = deletion_reasons(name, ids)
        for record_id in ids:
            writer.write(
                {
                    "config": name,
                    "id": record_id,
                    "reason": reasons[record_id],
                    "release_id": release_id,
                }
            )
    return writer.close(), deleted, writer.rows


def _check_verbatim(root: Path) -> None:
    """The retention audit over the release's strings: no run of a purged source's words."""
    report = audit_retention(scanners=(lambda: release_columns(root),))
    if report.runs or report.errors:
        found = [line for line in report.lines() if "release:" in line or "Not scanned" in line]
        raise ReleaseNotClean(
            "the release repeats words of a purged source or could not be checked; "
            "nothing was published: " + "; ".join(found)
        )


def write_release(
    slice_: Slice = Slice(),  # noqa: B008 (frozen dataclass)
    *,
    diff: bool = False,
    out: Path | None = None,
    progress: Progress = _no_progress,
    now: datetime | None = None,
) -> Release:
    """Write a release of ``slice_`` under ``out`` (default RELEASES_ROOT)/<release id>/: a
    full snapshot, or with ``diff`` the changes since the slice's previous release."""
    now = now or timezone.now()
    root = Path(out or settings.RELEASES_ROOT).resolve()
    previous = previous_release(slice_)
    state = None
    if previous is not None and (Path(previous.path) / "state").is_dir():
        state = read_state(Path(previous.path))
    if diff and state is None:
        raise ReleaseRefused(
            "no previous release of this slice on disk to diff from; write a full release first"
        )
    release_id = _release_id(now, slice_)
    final = root / release_id
    work = root / f".writing-{release_id}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        versioners = {
            c.name: _Versioner(release_id, now, (state or {}).get(c.name)) for c in RECORDS
        }
        files, rows = _write_records(work, Selection(slice_), diff, versioners, progress)
        deletion_files, deleted, deletion_rows = _write_deletions(work, release_id, versioners)
        files += deletion_files
        counts = {
            name: {
                "rows": rows[name],
                "added": v.added,
                "updated": v.updated,
                "deleted": deleted[name],
            }
            for name, v in versioners.items()
        }
        kind = Release.Kind.DIFF if diff else Release.Kind.FULL
        meta = {
            "release_id": release_id,
            "created": now.isoformat(),
            "kind": kind.value,
            "previous": previous.release_id if state is not None else None,
            "slice": slice_.as_dict(),
            "pending": slice_.include_pending,
            "title": "Alexandria knowledge" + (f" ({slice_.slug()})" if slice_.slug() else ""),
        }
        for written in files:
            written.sha256, written.bytes = file_digest(work / written.path)
        sizes = {
            name: (
                sum(f.rows for f in files if f.path.startswith(f"data/{name}/")),
                sum(f.bytes for f in files if f.path.startswith(f"data/{name}/")),
            )
            for name in [*rows, DELETIONS.name]
        }
        (work / "README.md").write_text(
            render_card(meta, sizes, settings.RELEASES_LICENSE), encoding="utf-8"
        )
        card = WrittenFile("README.md", 0)
        card.sha256, card.bytes = file_digest(work / "README.md")
        manifest = {
            **meta,
            "configs": {**counts, DELETIONS.name: {"rows": deletion_rows}},
            "files": [vars(f) for f in [card, *files]],
        }
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        (work / "manifest.json").write_bytes(body)
        _check_verbatim(work)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Release.objects.create(
        release_id=release_id,
        kind=kind,
        previous=previous if state is not None else None,
        slice=slice_.as_dict(),
        path=str(final),
        manifest_sha256=hashlib.sha256(body).hexdigest(),
        counts=counts,
        created_at=now,
    )
