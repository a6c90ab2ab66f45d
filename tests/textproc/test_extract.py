import io

import pytest
from pypdf import PdfWriter

from alexandria.textproc.extract import (
    BinaryContentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    EncryptedPdfError,
    ExtractionError,
    UnreadablePdfError,
    UnsupportedFormatError,
    detect_format,
    extract_text,
)
from tests.textproc.pdf_factory import encrypted_pdf, text_pdf


def extract(data, content_type=None, filename=None, **kwargs):
    return extract_text(data, content_type=content_type, filename=filename, **kwargs)


# --- format detection --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "filename", "expected"),
    [
        (b"x", "text/html; charset=utf-8", "a.pdf", "html"),  # content type first
        (b"x", "text/markdown", None, "markdown"),
        (b"x", "text/csv", None, "text"),  # any other text/* reads as text
        (b"x", "application/octet-stream", "notes.MD", "markdown"),  # generic: use extension
        (b"x", None, "page.htm", "html"),
        (b"%PDF-1.7 ...", None, None, "pdf"),  # sniffed
        (b"\xef\xbb\xbf  <!DOCTYPE html><p>x", None, "upload", "html"),
        (b"<HTML lang=en><body>x", "application/octet-stream", None, "html"),
        (b"just words", None, "README", "text"),
        (b"just words", None, None, "text"),
    ],
)
def test_detect_format(data, content_type, filename, expected):
    assert detect_format(data, content_type, filename) == expected


@pytest.mark.parametrize(("content_type", "filename"), [("image/png", None), (None, "thesis.docx")])
def test_unsupported_types_are_rejected(content_type, filename):
    with pytest.raises(UnsupportedFormatError) as caught:
        extract(b"PK\x03\x04 zip bytes", content_type=content_type, filename=filename)
    assert caught.value.code == "unsupported_format"
    assert "not supported" in caught.value.message


def test_unsupported_content_type_still_reads_a_recognisable_pdf():
    data = text_pdf([["Sniffed anyway."]])
    assert extract(data, content_type="application/x-unknown").text == "Sniffed anyway."


# --- plain text ----------------------------------------------------------------------------


def test_plain_text_is_normalised_and_titled_by_its_first_line():
    document = extract(b"My Title\r\n\r\n\r\nBody  text\there.\r\n", content_type="text/plain")
    assert document.text == "My Title\n\nBody text here."
    assert (document.detected_format, document.title_hint) == ("text", "My Title")


def test_single_line_text_has_no_title_hint():
    assert extract(b"Only one line.", filename="a.txt").title_hint is None


def test_utf8_bom_is_accepted():
    assert extract("\ufeffCaf\u00e9".encode(), filename="a.txt").text == "Caf\u00e9"


def test_nul_bytes_are_binary():
    with pytest.raises(BinaryContentError) as caught:
        extract(b"abc\x00def", filename="a.txt")
    assert (caught.value.code, caught.value.offset) == ("binary", 3)
    assert "offset 3" in caught.value.message


@pytest.mark.parametrize(("data", "offset"), [(b"ok \xff bad", 3), (b"\xef\xbb\xbfab\xc3(", 5)])
def test_invalid_utf8_reports_the_byte_offset(data, offset):
    with pytest.raises(BinaryContentError) as caught:
        extract(data, content_type="text/plain")
    assert caught.value.offset == offset
    assert f"offset {offset}" in caught.value.message and "UTF-8" in caught.value.message


def test_latin1_html_is_rejected_as_not_utf8():
    with pytest.raises(BinaryContentError):
        extract("<p>Caf\u00e9</p>".encode("latin-1"), content_type="text/html")


@pytest.mark.parametrize("data", [b"", b"  \n\t ", b"\xef\xbb\xbf", b"<html><script>x</script>"])
def test_empty_input_or_empty_result(data):
    with pytest.raises(EmptyDocumentError) as caught:
        extract(data, content_type="text/html")
    assert caught.value.code == "empty"


def test_too_large():
    with pytest.raises(DocumentTooLargeError) as caught:
        extract(b"x" * 101, filename="a.txt", max_bytes=100)
    assert caught.value.code == "too_large"
    assert extract(b"x" * 100, filename="a.txt", max_bytes=100).text == "x" * 100


def test_errors_share_a_base_class_with_distinct_codes():
    classes = [BinaryContentError, DocumentTooLargeError, EmptyDocumentError, EncryptedPdfError,
               UnreadablePdfError, UnsupportedFormatError]  # fmt: skip
    assert all(issubclass(cls, ExtractionError) for cls in classes)
    assert len({cls.code for cls in classes}) == len(classes)


# --- Markdown --------------------------------------------------------------------------------

MARKDOWN = b"""# The Title #

Intro with **bold**, __strong__, *emphasis*, _underlined_ and ~~struck~~ words,
a [link](https://example.org/page "t") and ![a diagram](fig.png), snake_case_name,
2 * 3 * 4, `inline *code*` and <https://example.org>.

## Section

> Quoted wisdom.

- first item
* second item
1. numbered item

```python
def f(x):
    return x * 2  # **not bold**
```

Setext heading
--------------

[ref]: https://example.org/ref
See [the reference][ref].
"""


def test_markdown_keeps_text_and_drops_markup():
    document = extract(MARKDOWN, filename="doc.md")
    assert document.detected_format == "markdown"
    assert document.title_hint == "The Title"
    assert document.text == (
        "The Title\n\n"
        "Intro with bold, strong, emphasis, underlined and struck words,\n"
        "a link and a diagram, snake_case_name,\n"
        "2 * 3 * 4, inline *code* and https://example.org.\n\n"
        "Section\n\n"
        "Quoted wisdom.\n\n"
        "first item\nsecond item\n1. numbered item\n\n"
        "def f(x):\n return x * 2 # **not bold**\n\n"
        "Setext heading\n\n"
        "See the reference."
    )


# --- HTML ------------------------------------------------------------------------------------

HTML = b"""<!DOCTYPE html>
<html><head><title>  Grounded
   Knowledge </title><style>p { color: red }</style>
<script>var tracking = "do not keep";</script></head>
<body>
<header><a href="/">Site logo</a></header>
<nav><ul><li>Home</li><li>About</li></ul></nav>
<main><article>
<header><h1>Article heading</h1></header>
<p>First   paragraph
spans lines &amp; has <b>bold</b> and <a href="x">a link</a>.</p>
<!-- an HTML comment -->
<p>Second<br>line after break.</p>
<ul><li>Item one</li><li>Item two</li></ul>
<table><tr><th>Name</th><th>Value</th></tr><tr><td>pi</td><td>3.14</td></tr></table>
<noscript>Enable JavaScript</noscript>
</article></main>
<aside>Related links</aside>
<footer>Copyright notice</footer>
<script>console.log("late script")</script>
</body></html>
"""


def test_html_is_reduced_to_readable_text():
    document = extract(HTML, content_type="text/html")
    assert document.detected_format == "html"
    assert document.title_hint == "Grounded Knowledge"
    assert document.text == (
        "Article heading\n\n"
        "First paragraph spans lines & has bold and a link.\n\n"
        "Second\nline after break.\n\n"
        "Item one\nItem two\n\n"
        "Name Value\npi 3.14"
    )
    for noise in ["tracking", "color", "Site logo", "Home", "Related", "Copyright",
                  "JavaScript", "late script", "comment"]:  # fmt: skip
        assert noise not in document.text


def test_html_title_falls_back_to_first_h1():
    document = extract(b"<html><body><h1>Only <i>Heading</i></h1><p>Text.</p>", filename="a.html")
    assert document.title_hint == "Only Heading"


def test_deeply_nested_html_does_not_hit_the_recursion_limit():
    data = b"<div>" * 5000 + b"deep text" + b"</div>" * 5000
    assert extract(data, content_type="text/html").text == "deep text"


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_text_pages_are_joined_and_titled():
    data = text_pdf([["First page line one.", "Line two (with parens)."], ["Second page."]],
                    title="A Paper Title")  # fmt: skip
    document = extract(data, content_type="application/pdf")
    assert document.detected_format == "pdf"
    assert document.title_hint == "A Paper Title"
    assert document.text == "First page line one.\nLine two (with parens).\n\nSecond page."


def test_pdf_with_a_user_password_is_encrypted():
    with pytest.raises(EncryptedPdfError) as caught:
        extract(encrypted_pdf("secret"), filename="locked.pdf")
    assert caught.value.code == "encrypted"
    assert "password" in caught.value.message


def test_pdf_with_only_an_owner_password_is_read():
    assert extract(encrypted_pdf(""), filename="restricted.pdf").text == "Secret text."


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\nthis is not a pdf at all",
        text_pdf([["Truncated document."]])[:60],
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< >>\n%%EOF",
    ],
)
def test_broken_pdf_is_unreadable(data):
    with pytest.raises(UnreadablePdfError) as caught:
        extract(data, content_type="application/pdf")
    assert caught.value.code == "unreadable"


def test_pdf_without_a_text_layer_is_empty():
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(EmptyDocumentError) as caught:
        extract(buffer.getvalue(), filename="scan.pdf")
    assert "scanned" in caught.value.message
