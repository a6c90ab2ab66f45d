"""Turn an uploaded file into normalised plain text, or fail with a typed, user-facing error.

Supported: plain text, Markdown, HTML and PDF. Text formats must be strict UTF-8 (a UTF-8
byte-order mark is accepted). The returned text is already `normalize_text`-ed, so offsets
computed on it are the canonical stored offsets.
"""

import io
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4.element import ProcessingInstruction
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

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
    "UnreadablePdfError",
    "UnsupportedFormatError",
    "detect_format",
    "extract_text",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

DocumentFormat = Literal["text", "markdown", "html", "pdf"]


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """Normalised text of an upload, the format it was read as, and a title if one was found."""

    text: str
    detected_format: DocumentFormat
    title_hint: str | None


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
) -> ExtractedDocument:
    """Extract normalised text from an upload; raises an `ExtractionError` subclass."""
    if len(data) > max_bytes:
        raise DocumentTooLargeError(
            f"The file is {len(data):,} bytes; the limit is {max_bytes:,} bytes."
        )
    if not data.strip():
        raise EmptyDocumentError("The file is empty.")
    document_format = detect_format(data, content_type, filename)
    if document_format == "pdf":
        raw_text, title = _pdf_text(data)
    else:
        decoded = _decode_utf8(data)
        if document_format == "html":
            raw_text, title = _html_text(decoded)
        elif document_format == "markdown":
            raw_text, title = _markdown_text(decoded)
        else:
            raw_text, title = decoded, _first_line_title(decoded)
    text = normalize_text(raw_text)
    if not text:
        raise EmptyDocumentError(
            "No text was found in the file"
            + (" (a scanned PDF without a text layer?)." if document_format == "pdf" else ".")
        )
    return ExtractedDocument(text=text, detected_format=document_format, title_hint=title)


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


def _pdf_text(data: bytes) -> tuple[str, str | None]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedPdfError(
                "The PDF is password-protected; upload a copy without a password."
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except ExtractionError:
        raise
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


def _html_text(markup: str) -> tuple[str, str | None]:
    soup = BeautifulSoup(markup, "html.parser")
    title = None
    if soup.title and soup.title.get_text(strip=True):
        title = _one_line(soup.title.get_text(" "))
    parts: list[str] = []
    # Iterative walk (deeply nested markup must not hit the recursion limit). The stack holds
    # nodes still to visit and, as plain strings, the separators that close block elements.
    stack: list[Tag | NavigableString | str] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            parts.append(node)  # a separator pushed below
        elif isinstance(node, NavigableString):
            if not isinstance(node, _HTML_SKIPPED_STRINGS):
                in_pre = node.find_parent("pre") is not None
                parts.append(str(node) if in_pre else re.sub(r"\s+", " ", str(node)))
        elif _html_keeps(node):
            opening, closing = _html_separators(node.name)
            stack.append(closing)
            stack.extend(reversed(node.contents))
            stack.append(opening)
    text = re.sub(r" *\n *", "\n", "".join(parts))
    heading = soup.find("h1")
    if title is None and heading is not None:
        title = _one_line(heading.get_text(" ")) or None
    return text, title


def _html_keeps(tag: Tag) -> bool:
    if tag.name in _HTML_DROP:
        return False
    if tag.name in _HTML_PAGE_CHROME:
        return tag.find_parent(["article", "main"]) is not None
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


# --- Markdown ---------------------------------------------------------------------------

_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
_MD_SETEXT_OR_RULE = re.compile(r"^ {0,3}(?:=+|-{3,}|\*{3,}|_{3,}|(?:[-*_] ){2,}[-*_])[ \t]*$")
_MD_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+.*$")
_MD_BLOCKQUOTE = re.compile(r"^ {0,3}(?:> ?)+")
_MD_BULLET = re.compile(r"^(\s*)[-*+][ \t]+")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EMPHASIS_STAR = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*")
_MD_EMPHASIS_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_MD_STRIKETHROUGH = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def _markdown_text(markdown: str) -> tuple[str, str | None]:
    """Keep the prose of Markdown, dropping markup; fenced code is kept verbatim as text."""
    lines: list[str] = []
    title = None
    fence: str | None = None
    for line in markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        opening = _MD_FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
                lines.append("")
            else:
                lines.append(line)
            continue
        if opening:
            fence = opening.group(1)
            lines.append("")
            continue
        if _MD_SETEXT_OR_RULE.match(line) or _MD_REFERENCE_DEFINITION.match(line):
            lines.append("")
            continue
        line = _MD_BLOCKQUOTE.sub("", line)
        line = _MD_BULLET.sub(r"\1", line)
        heading = _MD_HEADING.match(line)
        if heading:
            line = _markdown_inline(heading.group(2))
            if title is None and line.strip() and heading.group(1) == "#":
                title = _one_line(line)
            lines.extend(["", line, ""])
            continue
        lines.append(_markdown_inline(line))
    return "\n".join(lines), title


def _markdown_inline(line: str) -> str:
    # Code spans first, so markup-like characters inside them are left alone.
    pieces = []
    position = 0
    for code in _MD_CODE_SPAN.finditer(line):
        pieces.append(_markdown_inline_markup(line[position : code.start()]))
        pieces.append(code.group(2).strip())
        position = code.end()
    pieces.append(_markdown_inline_markup(line[position:]))
    return "".join(pieces)


def _markdown_inline_markup(text: str) -> str:
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _MD_STRONG.sub(r"\2", text)
    text = _MD_STRIKETHROUGH.sub(r"\1", text)
    text = _MD_EMPHASIS_STAR.sub(r"\1", text)
    return _MD_EMPHASIS_UNDERSCORE.sub(r"\1", text)
