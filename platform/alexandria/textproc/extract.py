"""Turn an uploaded file into normalised plain text, or fail with a typed, user-facing error.

Supported: plain text, Markdown, HTML and PDF. Text formats must be strict UTF-8 (a UTF-8
byte-order mark is accepted). The returned text is already `normalize_text`-ed, so offsets
computed on it are the canonical stored offsets. Asked to (``figure_limits``), it also returns
the document's figures with their captions' offsets in that text (``textproc.figures``).
"""

import io
import re
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4.element import ProcessingInstruction
from pypdf import PdfReader, apply_configuration
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PyPdfError

from alexandria.textproc.figures import (
    ExtractedFigure,
    FigureLimits,
    PdfFigures,
    html_figures,
    markdown_figures,
)
from alexandria.textproc.markdown import markdown_text
from alexandria.textproc.normalize import normalize_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "BinaryContentError",
    "DocumentFormat",
    "DocumentTooLargeError",
    "EmptyDocumentError",
    "EncryptedPdfError",
    "ExtractedDocument",
    "ExtractionError",
    "ExtractionLimits",
    "UnreadablePdfError",
    "UnsupportedFormatError",
    "check_utf8",
    "detect_format",
    "extract_text",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

DocumentFormat = Literal["text", "markdown", "html", "pdf"]


@dataclass(frozen=True, slots=True)
class ExtractionLimits:
    """What one upload may cost. A PDF is small on disk and can expand without bound (Flate
    streams, forms drawn many times), so its text, pages, decompressed streams and time are
    capped while it is read; text formats cost time linear in their size."""

    max_chars: int = 4 * 1024 * 1024
    pdf_max_pages: int = 2000
    # Characters of text per byte of file: ordinary PDFs stay far below 10.
    pdf_max_expansion: int = 20
    pdf_max_stream_bytes: int = 32 * 1024 * 1024
    pdf_max_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """Normalised text of an upload, the format it was read as, a title if one was found, and
    its figures when they were asked for."""

    text: str
    detected_format: DocumentFormat
    title_hint: str | None
    figures: tuple[ExtractedFigure, ...] = ()


class ExtractionError(Exception):
    """An upload could not be turned into text; `message` is shown to the user."""

    code = "extraction_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyDocumentError(ExtractionError):
    code = "empty"


class BinaryContentError(ExtractionError):
    """Bytes that are not text: `offset` is the first offending byte."""

    code = "binary"

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class EncryptedPdfError(ExtractionError):
    code = "encrypted"


class UnreadablePdfError(ExtractionError):
    code = "unreadable"


class UnsupportedFormatError(ExtractionError):
    code = "unsupported_format"


class DocumentTooLargeError(ExtractionError):
    code = "too_large"


_CONTENT_TYPES: dict[str, DocumentFormat] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
}
# Types that say nothing about the content: detection moves on to the file name.
_GENERIC_CONTENT_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
)
_EXTENSIONS: dict[str, DocumentFormat] = {
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".tex": "text",
    ".org": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
_HTML_SNIFF = re.compile(rb"\s*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"


def detect_format(data: bytes, content_type: str | None, filename: str | None) -> DocumentFormat:
    """Pick the format from the content type, else the file extension, else the bytes.

    A specific but unsupported content type or extension raises `UnsupportedFormatError`
    unless the bytes are recognisably PDF or HTML; with no usable hint, text is assumed.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    if media_type.startswith("text/"):
        return "text"
    extension = PurePath(filename).suffix.lower() if filename else ""
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    head = data[:1024].removeprefix(_UTF8_BOM)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if _HTML_SNIFF.match(head):
        return "html"
    if media_type not in _GENERIC_CONTENT_TYPES:
        raise UnsupportedFormatError(
            f"Files of type {media_type!r} are not supported: upload plain text, Markdown, "
            "HTML or PDF."
        )
    if extension:
        raise UnsupportedFormatError(
            f"Files ending in {extension!r} are not supported: upload plain text, Markdown, "
            "HTML or PDF."
        )
    return "text"


def extract_text(
    data: bytes,
    *,
    content_type: str | None,
    filename: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    limits: ExtractionLimits = ExtractionLimits(),
    figure_limits: FigureLimits | None = None,
) -> ExtractedDocument:
    """Extract normalised text from an upload (and with ``figure_limits`` its figures);
    raises an `ExtractionError` subclass."""
    if len(data) > max_bytes:
        raise DocumentTooLargeError(
            f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes."
        )
    if not data.strip():
        raise EmptyDocumentError("The file is empty.")
    document_format = detect_format(data, content_type, filename)
    pdf_figures = None
    if figure_limits is not None and document_format == "pdf":
        pdf_figures = PdfFigures(figure_limits)
    decoded = ""
    if document_format == "pdf":
        raw_text, title = _pdf_text(data, limits, pdf_figures)
    else:
        decoded = _decode_utf8(data)
        if document_format == "html":
            raw_text, title = _html_text(decoded)
        elif document_format == "markdown":
            raw_text, title = markdown_text(decoded)
        else:
            raw_text, title = decoded, _first_line_title(decoded)
    text = normalize_text(raw_text)
    if len(text) > limits.max_chars:
        raise DocumentTooLargeError(
            f"The file's text is {len(text):,} characters; the limit is {limits.max_chars:,}."
        )
    if not text:
        raise EmptyDocumentError(
            "No text was found in the file"
            + (" (a scanned PDF without a text layer?)." if document_format == "pdf" else ".")
        )
    figures: list[ExtractedFigure] = []
    if pdf_figures is not None:
        figures = pdf_figures.figures(text)
    elif figure_limits is not None and document_format == "html":
        figures = html_figures(decoded, text, figure_limits)
    elif figure_limits is not None and document_format == "markdown":
        figures = markdown_figures(decoded, text, figure_limits)
    return ExtractedDocument(
        text=text, detected_format=document_format, title_hint=title, figures=tuple(figures)
    )


def check_utf8(data: bytes) -> None:
    """Refuse bytes a text format can't be read from (``BinaryContentError``): a check at C
    speed, so it can run where the extraction itself must not (the request)."""
    _decode_utf8(data)


def _decode_utf8(data: bytes) -> str:
    bom = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    nul = data.find(b"\x00")
    if nul != -1:
        raise BinaryContentError(
            f"The file looks binary, not text (NUL byte at offset {nul}).", offset=nul
        )
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        raise BinaryContentError(
            f"The file is not valid UTF-8 text (undecodable byte at offset {offset}); "
            "save it as UTF-8 and upload it again.",
            offset=offset,
        ) from exc


def _one_line(text: str) -> str:
    """Normalised text with every whitespace run, line breaks included, as one space."""
    return " ".join(normalize_text(text).split())


def _first_line_title(text: str) -> str | None:
    """The first line of a multi-line text, if it is short enough to be a title."""
    lines = normalize_text(text).split("\n", 1)
    if len(lines) == 2 and 0 < len(lines[0]) <= 150:
        return lines[0]
    return None


# --- PDF --------------------------------------------------------------------------------


class _PdfBudgetSpent(BaseException):
    """Raised from pypdf's text visitor when a PDF exceeds its limits. A BaseException on
    purpose: pypdf swallows ``Exception`` from the forms a page draws, and would go on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _PdfBudget:
    """Counts the characters a PDF yields and the time it takes, and stops it at the limit."""

    def __init__(self, limits: ExtractionLimits, file_bytes: int) -> None:
        self.limits = limits
        self.max_chars = min(limits.max_chars, limits.pdf_max_expansion * file_bytes)
        self.chars = 0
        self.started = time.monotonic()

    def add(self, text: str, *_context: object) -> None:
        self.chars += len(text)
        if self.chars > self.max_chars:
            if self.max_chars < self.limits.max_chars:
                raise _PdfBudgetSpent(
                    "The PDF's text is more than "
                    f"{self.limits.pdf_max_expansion} times the size of the file, which only "
                    "a decompression bomb does; it was refused."
                )
            raise _PdfBudgetSpent(
                f"The PDF's text is longer than {self.limits.max_chars:,} characters."
            )
        seconds = self.limits.pdf_max_seconds
        if seconds is not None and time.monotonic() - self.started > seconds:
            raise _PdfBudgetSpent(f"Reading the PDF took longer than {seconds:g} seconds.")


def _pdf_text(
    data: bytes, limits: ExtractionLimits, figures: PdfFigures | None = None
) -> tuple[str, str | None]:
    budget = _PdfBudget(limits, len(data))
    stream_limit = limits.pdf_max_stream_bytes
    try:
        with apply_configuration(
            zlib_maximum_output_length=stream_limit,
            lzw_maximum_output_length=stream_limit,
            run_length_maximum_output_length=stream_limit,
            brotli_maximum_output_length=stream_limit,
            maximum_declared_stream_length=stream_limit,
        ):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise EncryptedPdfError(
                    "The PDF is password-protected; upload a copy without a password."
                )
            if len(reader.pages) > limits.pdf_max_pages:
                raise DocumentTooLargeError(
                    f"The PDF has {len(reader.pages):,} pages; the limit is "
                    f"{limits.pdf_max_pages:,}."
                )
            pages = []
            visitor = figures.visitor if figures is not None else None
            for number, page in enumerate(reader.pages, start=1):
                budget.add("")  # the time limit, also for pages without text
                read = page.extract_text(visitor_text=budget.add, visitor_operand_before=visitor)
                pages.append(read or "")
                if figures is not None:
                    figures.add_page(number, page, pages[-1])
                    budget.add("")
            title = reader.metadata.title if reader.metadata else None
    except ExtractionError:
        raise
    except _PdfBudgetSpent as exc:
        raise DocumentTooLargeError(exc.message) from None
    except LimitReachedError as exc:
        raise DocumentTooLargeError(
            f"Part of the PDF decompresses to more than {stream_limit:,} bytes; it was refused."
        ) from exc
    except (FileNotDecryptedError, DependencyError) as exc:
        raise EncryptedPdfError(
            "The PDF is encrypted in a way the server cannot open; upload an unencrypted copy."
        ) from exc
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # pypdf surfaces damaged files as its own errors and as plain lookup/type errors.
        raise UnreadablePdfError("The PDF is damaged or not a valid PDF file.") from exc
    title = _one_line(title) if isinstance(title, str) else None
    return "\n\n".join(pages), title or None


# --- HTML -------------------------------------------------------------------------------

# Elements that are never part of the readable text.
_HTML_DROP = frozenset(
    {"script", "style", "noscript", "template", "nav", "aside", "svg", "iframe", "head",
     "form", "button", "select", "canvas", "object", "embed"}
)  # fmt: skip
# Page chrome, dropped unless inside an <article>/<main> where it holds the article's title.
_HTML_PAGE_CHROME = frozenset({"header", "footer"})
_HTML_PARAGRAPH_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "blockquote", "pre", "h1", "h2", "h3", "h4",
     "h5", "h6", "ul", "ol", "dl", "table", "figure", "figcaption", "address", "header",
     "footer", "hr", "details", "summary", "body"}
)  # fmt: skip
_HTML_LINE_BLOCKS = frozenset({"li", "tr", "dt", "dd", "caption"})
_HTML_CELLS = frozenset({"td", "th"})
_HTML_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
# Elements whose being open changes how their content reads, by the count they raise.
_HTML_TRACKED = {"pre": "pre", "article": "article", "main": "article"}
_WHITESPACE = re.compile(r"\s+")


def _html_text(markup: str) -> tuple[str, str | None]:
    soup = BeautifulSoup(markup, "html.parser")
    title = None
    if soup.title and soup.title.get_text(strip=True):
        title = _one_line(soup.title.get_text(" "))
    parts: list[str] = []
    # One iterative pass (deeply nested markup must neither hit the recursion limit nor cost
    # a walk up the tree per string). The stack holds nodes still to visit, the separators
    # that close block elements (plain strings), and the ends of elements that change how
    # their content is read (_Leave), so the counts of open <pre> and <article>/<main>
    # elements are always those enclosing the node being visited.
    open_counts = dict.fromkeys(_HTML_TRACKED.values(), 0)
    stack: list[Tag | NavigableString | str | _Leave] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, _Leave):
            open_counts[node.name] -= 1
        elif isinstance(node, str) and not isinstance(node, NavigableString):
            parts.append(node)  # a separator pushed below
        elif isinstance(node, NavigableString):
            if not isinstance(node, _HTML_SKIPPED_STRINGS):
                parts.append(str(node) if open_counts["pre"] else _WHITESPACE.sub(" ", node))
        elif _html_keeps(node, in_article=open_counts["article"] > 0):
            opening, closing = _html_separators(node.name)
            stack.append(closing)
            tracked = _HTML_TRACKED.get(node.name)
            if tracked is not None:
                open_counts[tracked] += 1
                stack.append(_Leave(tracked))
            stack.extend(reversed(node.contents))
            stack.append(opening)
    # Spaces around line breaks go line by line: a pattern like " *\n *" is quadratic in a run
    # of spaces with no line break.
    text = "\n".join(line.strip(" ") for line in "".join(parts).split("\n"))
    heading = soup.find("h1")
    if title is None and heading is not None:
        title = _one_line(heading.get_text(" ")) or None
    return text, title


@dataclass(frozen=True, slots=True)
class _Leave:
    """Marks the end of a tracked element's content in the walk of ``_html_text``."""

    name: str


def _html_keeps(tag: Tag, *, in_article: bool) -> bool:
    if tag.name in _HTML_DROP:
        return False
    if tag.name in _HTML_PAGE_CHROME:
        return in_article
    return True


def _html_separators(name: str) -> tuple[str, str]:
    """Text emitted before and after an element so that blocks stay apart."""
    if name in _HTML_PARAGRAPH_BLOCKS:
        return "\n\n", "\n\n"
    if name in _HTML_LINE_BLOCKS or name == "br":
        return "\n", ""
    if name in _HTML_CELLS:
        return " ", " "
    return "", ""
