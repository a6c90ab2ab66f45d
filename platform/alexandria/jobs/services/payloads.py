"""Job payloads refer to spans of their source's text; the text goes in when a node leases.

Copyright retention: until its analysis ends, a source's text exists only in the source's own
row (``Source.text``), and then it is purged. A stored payload (``Job.payload``: kept after the
job, shown in admin) therefore never copies it. Wherever the payload a node reads has a string
of the source, list items included, the stored payload has a span of the source's normalised
text, and it names the source once, at its top::

    {"$spans_of": 17, "chunk_start": 1200, "chunk": {"$span": [1200, 2450]},
     "anchor_candidates": [{"$span": [1200, 1288]}, ...], ...}

``{"$span": [start, end]}`` stands for ``text[start:end]`` of source ``$spans_of``. The span
form is the stored form only: ``create_job`` checks the hydrated payload against the kind's
input schema, and leasing hands nodes hydrated payloads (``hydrate_payloads``), reading in one
query just the range of each leased payload's source that its spans cover, and only when a
leased payload has spans at all.
"""

from collections.abc import Iterator
from typing import Any

from django.db import connection

from alexandria.sources.models import Source

SPAN = "$span"
SPANS_OF = "$spans_of"

# The text each leased payload needs: (row, source id, start, end) -> whether the source still
# holds its text, and the characters [start, end) of it. Portable (PostgreSQL and SQLite both
# name the columns of a VALUES list column1, column2, ...).
_RANGES = """
SELECT wanted.column1, source.text_purged_at IS NULL,
       substr(source.text, wanted.column3 + 1, wanted.column4 - wanted.column3)
FROM (VALUES :rows) AS wanted
JOIN :sources AS source ON source.id = wanted.column2
"""


def span(start: int, end: int) -> dict[str, list[int]]:
    """The stored stand-in for ``text[start:end]`` of the payload's source."""
    return {SPAN: [start, end]}


def _is_span(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SPAN in value


def spans_in(value: Any) -> Iterator[tuple[int, int]]:
    """Every span in a payload, depth first."""
    if _is_span(value):
        start, end = value[SPAN]
        yield start, end
    elif isinstance(value, dict):
        for item in value.values():
            yield from spans_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from spans_in(item)


def hydrate(value: Any, text: str, offset: int = 0) -> Any:
    """``value`` with each span replaced by its text; ``text`` starts at ``offset`` of the
    source's text. The ``$spans_of`` key goes: nodes read the payload as its kind defines it."""
    if _is_span(value):
        start, end = value[SPAN]
        return text[start - offset : end - offset]
    if isinstance(value, dict):
        return {key: hydrate(item, text, offset) for key, item in value.items() if key != SPANS_OF}
    if isinstance(value, list):
        return [hydrate(item, text, offset) for item in value]
    return value


def check_spans(payload: dict, length: int) -> list[str]:
    """What is wrong with a payload's spans over a text of ``length`` characters."""
    return [
        f"span [{start}, {end}] is not within the source's {length} characters"
        for start, end in spans_in(payload)
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= length)
    ]


def stored_form(payload: dict, source_id: int) -> dict:
    """The payload as a job stores it: its spans' source named at the top."""
    return {SPANS_OF: source_id, **payload}


def _covered(payload: dict) -> tuple[int, int] | None:
    """The range of its source's text a stored payload's spans cover (None: no spans)."""
    if SPANS_OF not in payload:
        return None
    spans = list(spans_in(payload))
    if not spans:
        return None
    return min(start for start, _ in spans), max(end for _, end in spans)


def hydrate_payloads(payloads: list[dict]) -> list[dict | None]:
    """The payloads nodes read: those with spans hydrated from their source, in one query;
    None for one whose source's text has been purged. Payloads without spans come back as
    they are, and when no payload has spans the database is not asked at all."""
    wanted = {}
    for row, payload in enumerate(payloads):
        covered = _covered(payload)
        if covered is not None:
            wanted[row] = (payload[SPANS_OF], *covered)
    if not wanted:
        return list(payloads)
    texts = _read_ranges(wanted)
    hydrated: list[dict | None] = list(payloads)
    for row, (_, start, _) in wanted.items():
        text = texts.get(row)
        hydrated[row] = None if text is None else hydrate(payloads[row], text, start)
    return hydrated


def _read_ranges(wanted: dict[int, tuple[int, int, int]]) -> dict[int, str]:
    """{row: the text of its (source id, start, end)} in one query; a row whose source's text
    is purged (or whose source is gone) is left out."""
    statement = _RANGES.replace(":rows", ", ".join(["(%s, %s, %s, %s)"] * len(wanted))).replace(
        ":sources", connection.ops.quote_name(Source._meta.db_table)
    )
    params = [value for row, ranged in wanted.items() for value in (row, *ranged)]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return {row: text or "" for row, kept, text in cursor.fetchall() if kept}
