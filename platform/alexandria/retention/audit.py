"""The retention audit: does anything stored still repeat the wording of a purged source?

Every stored text is hashed once, shingle by shingle, with the installation's fingerprint key
and looked up in the fingerprints of all purged sources together (``sources.fingerprints``): a
run of ``RETENTION_MAX_RUN_WORDS`` or more consecutive words of any of them is a finding. What
is scanned comes from ``SCANNERS``: every text column of every model of every installed app
(``CharField``, ``TextField`` and each string in a ``JSONField``; anchors' quoted fragments
too, which hold by construction), and every document and metadata string of every Chroma
collection. Scanning another store (release files, say) is one more scanner.

The only text allowed to hold a source's words is the source's own ``text`` column while its
analysis runs; purged sources' texts are empty, and sources still being analysed are not
audited. A purged source whose fingerprint is missing, or was made with another key or
shingle length, cannot be audited: the report lists it, and an audit that could not look
everywhere or at everything is not clean.

Images follow the text's rule: a figure's image (``figures.Figure.image``) is kept only while
its source's analysis runs, and no text anywhere may hold an image's bytes (a base64 PNG or
JPEG, as a node reads one in a leased payload): each is a finding.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

from alexandria.chroma import chroma_client
from alexandria.figures.models import Figure
from alexandria.sources.fingerprints import ShingleIndex, current_key_id, usable_fingerprints
from alexandria.sources.models import Source, SourceFingerprint, SourceUpload

logger = logging.getLogger(__name__)

ROW_BATCH = 2000
CHROMA_PAGE = 500
# How the bytes of a PNG or JPEG begin in base64, alone or in a data URI.
_IMAGE_BASE64 = ("iVBORw0KGgo", "/9j/")
_IMAGE_IN_URI = tuple(f";base64,{start}" for start in _IMAGE_BASE64)

# Rows whose text may hold a source's words: a source's own text until it is purged.
_ALLOWED_ROWS: dict[tuple[type[models.Model], str], models.Q] = {
    (Source, "text"): models.Q(text_purged_at__isnull=True),
}


@dataclass(frozen=True)
class Column:
    """One place texts are stored: ``rows()`` gives each row's strings (a JSON value's string
    leaves, each on its own, so no run is counted across two of them)."""

    place: str
    name: str
    rows: Callable[[], Iterable[list[str]]]


@dataclass
class Tally:
    rows: int = 0
    rows_with_runs: int = 0
    runs: int = 0
    source_ids: set[int] = field(default_factory=set)
    # Rows holding an image's bytes.
    images: int = 0


@dataclass
class AuditReport:
    run_words: int
    purged_sources: int
    audited_sources: int
    unauditable: dict[int, str] = field(default_factory=dict)
    columns: dict[tuple[str, str], Tally] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Sources still holding their uploaded file after its extraction ended.
    kept_uploads: list[int] = field(default_factory=list)
    # Figures still holding their image after their source's text was purged.
    kept_images: list[int] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return sum(tally.runs for tally in self.columns.values())

    @property
    def image_rows(self) -> int:
        return sum(tally.images for tally in self.columns.values())

    @property
    def clean(self) -> bool:
        return (
            not self.runs
            and not self.image_rows
            and not self.unauditable
            and not self.errors
            and not self.kept_uploads
            and not self.kept_images
        )

    def lines(self) -> list[str]:
        """The report as printed: a count per column that holds rows, a summary of the rest."""
        lines = [
            f"Retention audit: runs of {self.run_words}+ consecutive words of "
            f"{self.audited_sources} of {self.purged_sources} purged source(s).",
            f"{'runs':>6} {'rows with runs':>14} {'rows':>9}  column",
        ]
        empty = []
        for (place, name), tally in sorted(self.columns.items()):
            if not tally.rows:
                empty.append(f"{place}.{name}")
                continue
            where = f"{place}.{name}"
            if tally.source_ids:
                where += f"  (sources {sorted(tally.source_ids)})"
            lines.append(f"{tally.runs:>6} {tally.rows_with_runs:>14} {tally.rows:>9}  {where}")
        if empty:
            lines.append(f"{0:>6} {0:>14} {0:>9}  {len(empty)} columns without rows")
        for source_id, why in sorted(self.unauditable.items()):
            lines.append(f"Source {source_id} cannot be audited: {why}.")
        lines.extend(f"Not scanned: {error}" for error in self.errors)
        lines.extend(
            f"Source {source_id} still holds its uploaded file after extraction ended."
            for source_id in self.kept_uploads
        )
        lines.extend(
            f"Figure {figure_id} still holds its image after its source's text was purged."
            for figure_id in self.kept_images
        )
        lines.extend(
            f"FOUND image bytes in {tally.images} row(s) of {place}.{name}."
            for (place, name), tally in sorted(self.columns.items())
            if tally.images
        )
        if self.runs:
            found = {(p, n) for (p, n), tally in self.columns.items() if tally.runs}
            lines.append(f"FOUND {self.runs} run(s) in {len(found)} column(s).")
        elif self.clean:
            lines.append("Clean: no stored text repeats a purged source.")
        else:
            lines.append("No runs found, but the audit is incomplete (see above).")
        return lines


def string_leaves(value: Any) -> Iterator[str]:
    """The strings in a stored value: itself, or a JSON value's keys and string leaves."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(key)
            yield from string_leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from string_leaves(item)


def _text_fields(model: type[models.Model]) -> Iterator[models.Field]:
    for model_field in model._meta.concrete_fields:
        if isinstance(model_field, models.CharField | models.TextField | models.JSONField):
            yield model_field


def _column_rows(model: type[models.Model], model_field: models.Field) -> Iterator[list[str]]:
    rows = model._base_manager.all()
    allowed = _ALLOWED_ROWS.get((model, model_field.name))
    if allowed is not None:
        rows = rows.exclude(allowed)
    values = rows.values_list(model_field.attname, flat=True).order_by()
    for value in values.iterator(chunk_size=ROW_BATCH):
        yield list(string_leaves(value))


def database_columns() -> Iterator[Column]:
    """Every text column of every model of every installed app."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in _text_fields(model):
            yield Column(
                model._meta.db_table,
                model_field.column,
                lambda model=model, model_field=model_field: _column_rows(model, model_field),
            )


def _collection_rows(collection, include: str) -> Iterator[list[str]]:
    offset = 0
    while True:
        page = collection.get(include=[include], limit=CHROMA_PAGE, offset=offset)
        values = page[include] or []
        for value in values:
            yield list(string_leaves(value))
        if len(page["ids"]) < CHROMA_PAGE:
            return
        offset += CHROMA_PAGE


def chroma_columns() -> Iterator[Column]:
    """The documents and metadata of every collection of the configured Chroma (none when
    neither a server nor an index directory is there)."""
    if not settings.CHROMA_URL and not Path(settings.CHROMA_PATH).exists():
        return
    client = chroma_client()
    for listed in client.list_collections():
        name = listed if isinstance(listed, str) else listed.name
        collection = client.get_collection(name)
        for include in ("documents", "metadatas"):
            yield Column(
                f"chroma:{name}",
                include,
                lambda collection=collection, include=include: _collection_rows(
                    collection, include
                ),
            )


SCANNERS: tuple[Callable[[], Iterable[Column]], ...] = (database_columns, chroma_columns)


def _unauditable(purged: models.QuerySet[Source]) -> dict[int, str]:
    reasons = {
        source_id: "it has no verbatim fingerprint"
        for source_id in purged.filter(fingerprint__isnull=True).values_list("pk", flat=True)
    }
    stale = SourceFingerprint.objects.filter(source__in=purged).exclude(
        key_id=current_key_id(), shingle_words=settings.RETENTION_MAX_RUN_WORDS
    )
    for fingerprint in stale.only("source_id", "key_id", "shingle_words"):
        if fingerprint.key_id != current_key_id():
            reasons[fingerprint.source_id] = (
                f"its fingerprint was made with another key ({fingerprint.key_id}): "
                "RETENTION_FINGERPRINT_KEY (or SECRET_KEY, which it defaults to) changed"
            )
        else:
            reasons[fingerprint.source_id] = (
                f"its fingerprint has {fingerprint.shingle_words}-word shingles, not "
                f"{settings.RETENTION_MAX_RUN_WORDS} (RETENTION_MAX_RUN_WORDS changed)"
            )
    return reasons


def kept_uploads() -> list[int]:
    """Sources whose uploaded file outlived its extraction: the raw file is no text column,
    so no scanner reads it, and only an extracting source may hold one."""
    return sorted(
        SourceUpload.objects.exclude(source__status=Source.Status.EXTRACTING).values_list(
            "source_id", flat=True
        )
    )


def kept_images() -> list[int]:
    """Figures whose image outlived their source's text (both are analysis copies)."""
    return sorted(
        Figure.objects.filter(
            source__text_purged_at__isnull=False, image__isnull=False
        ).values_list("pk", flat=True)
    )


def holds_image(text: str) -> bool:
    """Whether a stored text is (or holds, as a data URI) the base64 of a PNG or JPEG."""
    return text.lstrip().startswith(_IMAGE_BASE64) or any(uri in text for uri in _IMAGE_IN_URI)


def audit_retention(scanners: Iterable[Callable[[], Iterable[Column]]] = SCANNERS) -> AuditReport:
    """Scan everything the scanners reach for runs of purged sources' words."""
    purged = Source.objects.filter(text_purged_at__isnull=False)
    fingerprints = list(usable_fingerprints().filter(source__in=purged))
    index = ShingleIndex(fingerprints)
    report = AuditReport(
        run_words=settings.RETENTION_MAX_RUN_WORDS,
        purged_sources=purged.count(),
        audited_sources=len(fingerprints),
        unauditable=_unauditable(purged),
        kept_uploads=kept_uploads(),
        kept_images=kept_images(),
    )
    for scanner in scanners:
        try:
            for column in scanner():
                tally = report.columns.setdefault((column.place, column.name), Tally())
                _scan(column, index, tally)
        except Exception as exc:  # reported, not raised: the rest is still audited, not clean
            logger.exception("retention audit: %s failed", scanner.__name__)
            report.errors.append(f"{scanner.__name__}: {exc}")
    return report


def _scan(column: Column, index: ShingleIndex, tally: Tally) -> None:
    for texts in column.rows():
        tally.rows += 1
        if any(holds_image(text) for text in texts):
            tally.images += 1
        if not len(index):
            continue
        runs = [run for text in texts for run in index.copied_runs(text)]
        if runs:
            tally.rows_with_runs += 1
            tally.runs += len(runs)
            tally.source_ids.update(source_id for run in runs for source_id in run.source_ids)
