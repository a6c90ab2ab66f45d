"""Figures of an upload: its images with their page, position and caption.

PDF images are found while the text is read (``PdfFigures``: pypdf's images of each page, placed
where the page draws them); images embedded in HTML (``<img src="data:...">``) and Markdown
(``![caption](data:...)``) as data URIs. A figure's caption is located in the document's
normalised text like any anchor, by offsets: in a PDF the paragraph of its page that starts
with "Figure N" / "Fig. N" (the page's first caption goes to its first image, and so on), in
HTML the ``<figcaption>`` of its ``<figure>``, in Markdown its alt text. Images are kept as PNG
or JPEG (others are converted), tiny ones (icons, rules) and oversized ones are left out.
"""

import base64
import binascii
import hashlib
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from bs4 import BeautifulSoup
from PIL import Image
from pypdf.errors import PyPdfError

from alexandria.textproc.normalize import normalize_text

__all__ = [
    "CAPTION_MAX_CHARS",
    "ExtractedFigure",
    "FigureLimits",
    "PdfFigures",
    "html_figures",
    "locate_caption",
    "markdown_figures",
    "page_captions",
]

CAPTION_MAX_CHARS = 1000
# A caption starts a line with its label: "Figure 2:", "Fig. 3.", "FIGURE 4", "Abb. 5".
_CAPTION_LABEL = re.compile(
    r"(?m)^[ \t]*(?:Figure|FIGURE|Fig\.|FIG\.|Abbildung|Abb\.)[ \t]*\d+[A-Za-z]?\b"
)
# It runs to a blank line, or to a line that ends a sentence.
_CAPTION_END = re.compile(r"\n\s*\n|(?<=[.!?])[ \t]*\n")
_DATA_URI = re.compile(
    r"data:image/(?:png|jpeg|jpg|gif|webp);base64,([A-Za-z0-9+/=\s]+)", re.IGNORECASE
)
_MARKDOWN_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(\s*(data:image/[^)\s]+)\s*\)")
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
# How pypdf fails on an image it can't decode (a filter it lacks, damaged data, a stream over
# the decompression limit): the page's figures are left out, its text is not.
_UNDECODABLE = (
    PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, NotImplementedError,
    OSError,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FigureLimits:
    """Which images count as figures, and how many a document keeps."""

    max_figures: int = 64
    min_side: int = 32
    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True, slots=True)
class ExtractedFigure:
    """An image of a document: PNG or JPEG bytes, where it is, and its caption's offsets in
    the document's normalised text (None when no caption was found)."""

    data: bytes
    mime_type: str
    width: int
    height: int
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    caption: tuple[int, int] | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class _Found:
    """An image before its caption is located: the caption's raw text, if one was found."""

    data: bytes
    mime_type: str
    width: int
    height: int
    page: int | None
    bbox: tuple[float, float, float, float] | None
    caption_text: str | None


def _as_figure_image(data: bytes, limits: FigureLimits) -> tuple[bytes, str, int, int] | None:
    """PNG or JPEG bytes of an image and its size, or None for one that is no figure (too
    small, too large, unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if min(width, height) < limits.min_side or width * height > limits.max_pixels:
                return None
            image.load()  # a truncated or damaged image fails here, not on the node
            mime = next((m for sig, m in _SIGNATURES.items() if data.startswith(sig)), None)
            if mime is None:
                converted = io.BytesIO()
                image.convert("RGBA" if "A" in image.getbands() else "RGB").save(converted, "PNG")
                data, mime = converted.getvalue(), "image/png"
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    if len(data) > limits.max_bytes:
        return None
    return data, mime, width, height


def page_captions(page_text: str) -> list[str]:
    """The captions of a page's text, in order: from a line starting with a figure label to
    the end of its paragraph or first sentence-ending line."""
    captions = []
    for label in _CAPTION_LABEL.finditer(page_text):
        start = label.start() + len(label.group()) - len(label.group().lstrip())
        end_match = _CAPTION_END.search(page_text, label.end())
        end = end_match.start() if end_match else len(page_text)
        captions.append(page_text[start : min(end, start + CAPTION_MAX_CHARS)].strip())
    return captions


def locate_caption(text: str, caption: str, cursor: int = 0) -> tuple[int, int] | None:
    """Offsets of ``caption`` in the normalised ``text`` at or after ``cursor``, whatever
    whitespace separates its words there; None when it is not found."""
    words = normalize_text(caption).split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(word) for word in words)
    found = re.compile(pattern).search(text, cursor)
    if found is None or found.end() - found.start() > CAPTION_MAX_CHARS:
        return None
    return found.start(), found.end()


def _placed(found: Sequence[_Found], text: str, limits: FigureLimits) -> list[ExtractedFigure]:
    """The figures with their captions located in the document's text, in document order
    (each caption searched after the previous one), at most ``limits.max_figures``."""
    figures, cursor = [], 0
    for item in found[: limits.max_figures]:
        caption = None
        if item.caption_text:
            caption = locate_caption(text, item.caption_text, cursor)
            if caption is not None:
                cursor = caption[1]
        figures.append(
            ExtractedFigure(
                data=item.data,
                mime_type=item.mime_type,
                width=item.width,
                height=item.height,
                page=item.page,
                bbox=item.bbox,
                caption=caption,
            )
        )
    return figures


def _bbox(matrix: Sequence[float]) -> tuple[float, float, float, float]:
    """Where the unit square an image is drawn in lands on the page under ``matrix``."""
    a, b, c, d, e, f = (float(value) for value in matrix)
    xs = (e, e + a, e + c, e + a + c)
    ys = (f, f + b, f + d, f + b + d)
    return (round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2))


@dataclass
class PdfFigures:
    """Collects a PDF's figures while its text is read: pass ``visitor`` to pypdf's
    ``extract_text`` as ``visitor_operand_before`` and call ``add_page`` after each page."""

    limits: FigureLimits = field(default_factory=FigureLimits)
    found: list[_Found] = field(default_factory=list)
    _draws: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)

    def visitor(self, operator: bytes, arguments: list, matrix: list, _text_matrix: Any) -> None:
        if operator == b"Do" and arguments:
            self._draws.append((str(arguments[0]).lstrip("/"), _bbox(matrix)))

    def add_page(self, number: int, page: Any, page_text: str) -> None:
        """The images of page ``number`` (1-based), in the order the page draws them."""
        draws, self._draws = self._draws, []
        if len(self.found) >= self.limits.max_figures:
            return
        try:
            images = {PurePath(image.name).stem: image.data for image in page.images}
        except _UNDECODABLE:
            return
        placed = {}
        for name, bbox in draws:
            if name in images and name not in placed:
                placed[name] = bbox
        order = [*placed, *(name for name in images if name not in placed)]
        captions = iter(page_captions(normalize_text(page_text)))
        for name in order:
            kept = _as_figure_image(images[name], self.limits)
            if kept is None:
                continue
            if len(self.found) >= self.limits.max_figures:
                return
            data, mime, width, height = kept
            self.found.append(
                _Found(data, mime, width, height, number, placed.get(name), next(captions, None))
            )

    def figures(self, text: str) -> list[ExtractedFigure]:
        return _placed(self.found, text, self.limits)


def _data_uri_image(uri: str, limits: FigureLimits) -> tuple[bytes, str, int, int] | None:
    match = _DATA_URI.fullmatch(uri.strip())
    if match is None:
        return None
    try:
        data = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _as_figure_image(data, limits)


def html_figures(markup: str, text: str, limits: FigureLimits) -> list[ExtractedFigure]:
    """Figures of an HTML document: its data-URI images, each captioned by the
    ``<figcaption>`` of the ``<figure>`` around it."""
    if "data:image/" not in markup:
        return []
    found = []
    for image in BeautifulSoup(markup, "html.parser").find_all("img"):
        kept = _data_uri_image(str(image.get("src") or ""), limits)
        if kept is None:
            continue
        container = image.find_parent("figure")
        caption = container.find("figcaption") if container is not None else None
        caption_text = caption.get_text(" ") if caption is not None else None
        found.append(_Found(*kept, page=None, bbox=None, caption_text=caption_text))
    return _placed(found, text, limits)


def markdown_figures(source: str, text: str, limits: FigureLimits) -> list[ExtractedFigure]:
    """Figures of a Markdown document: its data-URI images, captioned by their alt text."""
    if "data:image/" not in source:
        return []
    found = []
    for image in _MARKDOWN_IMAGE.finditer(source):
        kept = _data_uri_image(image.group(2), limits)
        if kept is not None:
            found.append(_Found(*kept, page=None, bbox=None, caption_text=image.group(1)))
    return _placed(found, text, limits)
