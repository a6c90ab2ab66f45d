"""Hostile uploads (issue 21, finding 1): every extractor takes time linear in its input, and
a PDF that expands is refused with a reason.

Growth, not wall time, is asserted: the same adversarial pattern at 1, 2 and 4 times the size,
the best of a few runs each. Linear work grows about 4x from 1x to 4x; the quadratic
extractors these tests were written against grew about 16x (0.15 s → 2.3 s for 6 → 24 KB of
``_a ``), so a ratio under 8 separates them with room for noise. The ratio is taken from the
steadier of the two doublings (1x → 2x, 2x → 4x), squared: a burst of load on a shared machine
that slows one run then cannot fail a linear extractor, while a quadratic one grows about 4x at
each doubling.
"""

import time
from collections.abc import Callable

import pytest

from alexandria.textproc.extract import (
    DocumentTooLargeError,
    ExtractionLimits,
    extract_text,
)
from tests.textproc.pdf_factory import text_pdf

REPEATS = 3
MAX_GROWTH = 8.0


def best_time(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def growth(make: Callable[[int], bytes], base: int, **hints) -> tuple[float, list[float]]:
    """Growth from ``make(base)`` to ``make(4 * base)`` judged by the steadier doubling (see
    the module doc), and the three times."""
    times = []
    for size in (base, 2 * base, 4 * base):
        data = make(size)
        times.append(best_time(lambda: extract_text(data, **hints)))  # noqa: B023 (run at once)
    doublings = (times[1] / max(times[0], 1e-6), times[2] / max(times[1], 1e-6))
    return min(doublings) ** 2, times


MARKDOWN = {"content_type": "text/markdown", "filename": None}
HTML = {"content_type": "text/html", "filename": None}


@pytest.mark.parametrize(
    "pattern",
    [
        "_a ",  # underscore emphasis that never closes
        "*a ",  # star emphasis
        "**a ",  # strong
        "~~a ",  # strikethrough
        "[a",  # link labels that never close
        "![a](",  # image targets that never close
        "<http:a",  # autolinks that never close
        "`a``",  # code spans of differing lengths
    ],
)
def test_markdown_inline_markup_is_linear(pattern):
    ratio, times = growth(lambda size: (pattern * size).encode(), 40000, **MARKDOWN)
    assert ratio < MAX_GROWTH, (pattern, times)


def test_markdown_heading_with_long_inner_whitespace_is_linear():
    ratio, times = growth(lambda size: b"# a" + b" \t" * size + b"b #", 50000, **MARKDOWN)
    assert ratio < MAX_GROWTH, times


def test_markdown_markup_still_goes():
    text = extract_text(
        b"# T\n\n**b** __s__ *e* _u_ ~~x~~ `c *d*` [l](u) ![i](p) <https://e.org> a_b_c 2 * 3",
        **MARKDOWN,
    ).text
    assert text == "T\n\nb s e u x c *d* l i https://e.org a_b_c 2 * 3"


def test_html_nested_elements_are_linear():
    ratio, times = growth(lambda size: b"<div>x " * size, 3000, **HTML)
    assert ratio < MAX_GROWTH, times


def test_html_nested_pre_and_page_chrome_are_read_as_before():
    data = (
        b"<header>site chrome</header><article><header><h1>Kept</h1></header>"
        b"<pre>  two  spaces\n  kept</pre><div><p>a   b</p></div></article>"
    )
    assert extract_text(data, **HTML).text == "Kept\n\ntwo spaces\nkept\n\na b"


def expanding_pdf(lines: int) -> bytes:
    """A few kilobytes of PDF whose Flate-compressed page draws ``lines`` lines of text."""
    drawn = [f"The same line of text, drawn again and again ({i % 7})." for i in range(lines)]
    return text_pdf([drawn], compress=True)


def test_a_pdf_whose_text_expands_100_fold_is_refused_with_the_reason():
    data = expanding_pdf(20000)
    with pytest.raises(DocumentTooLargeError) as caught:
        extract_text(data, content_type="application/pdf", filename=None)
    assert "decompression bomb" in caught.value.message
    # Without the expansion limit, the same file yields over 100 characters per byte.
    unlimited = ExtractionLimits(pdf_max_expansion=10**6, max_chars=10**8)
    text = extract_text(data, content_type="application/pdf", filename=None, limits=unlimited)
    assert len(text.text) > 100 * len(data)


def test_pdf_page_text_and_stream_limits_refuse_with_reasons():
    pdf = {"content_type": "application/pdf", "filename": None}
    pages = text_pdf([["One page."], ["Two pages."], ["Three pages."]])
    with pytest.raises(DocumentTooLargeError, match="3 pages; the limit is 2"):
        extract_text(pages, **pdf, limits=ExtractionLimits(pdf_max_pages=2))
    long_text = text_pdf([["A line of forty characters, more or less."] * 50])
    with pytest.raises(DocumentTooLargeError, match="longer than 1,000 characters"):
        extract_text(long_text, **pdf, limits=ExtractionLimits(max_chars=1000))
    with pytest.raises(DocumentTooLargeError, match="decompresses to more than 1,000 bytes"):
        extract_text(expanding_pdf(200), **pdf, limits=ExtractionLimits(pdf_max_stream_bytes=1000))
    # Ordinary PDFs pass the default limits.
    assert extract_text(pages, **pdf).text == "One page.\n\nTwo pages.\n\nThree pages."


def test_pdf_extraction_grows_linearly_until_refused():
    limits = ExtractionLimits(pdf_max_expansion=10**6, max_chars=10**8)
    ratio, times = growth(
        expanding_pdf, 2000, content_type="application/pdf", filename=None, limits=limits
    )
    assert ratio < MAX_GROWTH, times
