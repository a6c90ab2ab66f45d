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

Images of a source (its figures) are analysis copies like its text, purged with it, so they
are never copied into a payload either: ``{"$image": 12}`` stands for the base64 of image 12,
the stored payload lists the images it needs at its top (``"$images": [12, ...]``) and names
their source under ``$spans_of``. The images are read in one query (the reader the app that
keeps them registers, ``register_image_reader``), only for leased payloads that list any; a
payload whose image is gone is handed out no more than one whose text is.
"""

import base64
from collections.abc import Callable, Collection, Iterator
from typing import Any

from django.db import connection

from alexandria.sources.models import Source

SPAN = "$span"
SPANS_OF = "$spans_of"
IMAGE = "$image"
IMAGES = "$images"
_MARKERS = frozenset({SPANS_OF, IMAGES})

# {image id: bytes} of the images still kept, in one query (registered by the app keeping them).
ImageReader = Callable[[Collection[int]], dict[int, bytes]]
_image_reader: list[ImageReader] = []

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


def image(image_id: int) -> dict[str, int]:
    """The stored stand-in for the base64 of image ``image_id`` of the payload's source."""
    return {IMAGE: image_id}


def register_image_reader(reader: ImageReader) -> None:
    """Set how images are read (the figures app does, from ``AppConfig.ready``)."""
    _image_reader[:] = [reader]


def read_images(image_ids: Collection[int]) -> dict[int, bytes]:
    """The images still kept of these, by id; none without a registered reader."""
    if not image_ids or not _image_reader:
        return {}
    return _image_reader[0](image_ids)


def _is_span(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SPAN in value


def _is_image(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and IMAGE in value


def images_in(value: Any) -> Iterator[int]:
    """The id of every image in a payload, depth first."""
    if _is_image(value):
        yield value[IMAGE]
    elif isinstance(value, dict):
        for item in value.values():
            yield from images_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from images_in(item)


def with_images(value: Any, images: dict[int, bytes]) -> Any:
    """``value`` with each image stand-in replaced by its bytes in base64."""
    if _is_image(value):
        return base64.b64encode(images[value[IMAGE]]).decode("ascii")
    if isinstance(value, dict):
        return {key: with_images(item, images) for key, item in value.items()}
    if isinstance(value, list):
        return [with_images(item, images) for item in value]
    return value


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
    source's text. The ``$spans_of`` and ``$images`` keys go: nodes read the payload as its
    kind defines it."""
    if _is_span(value):
        start, end = value[SPAN]
        return text[start - offset : end - offset]
    if isinstance(value, dict):
        return {
            key: hydrate(item, text, offset) for key, item in value.items() if key not in _MARKERS
        }
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
    """The payload as a job stores it: its spans' and images' source named at the top, and
    the images it needs listed there."""
    images = sorted(set(images_in(payload)))
    return {SPANS_OF: source_id, **({IMAGES: images} if images else {}), **payload}


def _covered(payload: dict) -> tuple[int, int] | None:
    """The range of its source's text a stored payload's spans cover (None: no spans)."""
    if SPANS_OF not in payload:
        return None
    spans = list(spans_in(payload))
    if not spans:
        return None
    return min(start for start, _ in spans), max(end for _, end in spans)


def hydrate_payloads(payloads: list[dict]) -> list[dict | None]:
    """The payloads nodes read: those with spans hydrated from their source, in one query,
    and those with images given them, in one more; None for one whose source's text (or
    image) has been purged. Payloads with neither come back as they are, and when no payload
    has any the database is not asked at all."""
    wanted = {}
    pictured = {}
    for row, payload in enumerate(payloads):
        covered = _covered(payload)
        if covered is not None:
            wanted[row] = (payload[SPANS_OF], *covered)
        if IMAGES in payload:
            pictured[row] = payload[IMAGES]
    if not wanted and not pictured:
        return list(payloads)
    texts = _read_ranges(wanted) if wanted else {}
    hydrated: list[dict | None] = list(payloads)
    for row, (_, start, _) in wanted.items():
        text = texts.get(row)
        hydrated[row] = None if text is None else hydrate(payloads[row], text, start)
    if pictured:
        images = read_images({image_id for ids in pictured.values() for image_id in ids})
        for row, ids in pictured.items():
            given = hydrated[row] if row in wanted else hydrate(payloads[row], "")
            whole = given is not None and all(image_id in images for image_id in ids)
            hydrated[row] = with_images(given, images) if whole else None
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
