"""Figures at extraction (textproc.figures): images of PDFs, HTML and Markdown with their page,
position and caption, the caption located by offsets in the document's normalised text."""

import base64
import hashlib
import io

from PIL import Image

from alexandria.textproc.extract import extract_text
from alexandria.textproc.figures import FigureLimits, locate_caption, page_captions
from tests.support.figure_documents import CAPTIONS, blue_stripes, pdf_with_figures, png, red_disc

LIMITS = FigureLimits()


def caption_of(document, figure) -> str:
    start, end = figure.caption
    return document.text[start:end]


def test_a_pdfs_figures_come_with_page_position_and_caption_offsets():
    icon = Image.new("RGB", (12, 12), "black")  # too small to be a figure
    document = extract_text(
        pdf_with_figures(extra_image=icon),
        content_type="application/pdf",
        filename="paper.pdf",
        figure_limits=LIMITS,
    )

    assert [figure.page for figure in document.figures] == [1, 2]
    assert [caption_of(document, f) for f in document.figures] == list(CAPTIONS)
    for figure, original in zip(document.figures, (red_disc(), blue_stripes()), strict=True):
        assert figure.mime_type == "image/png"
        assert (figure.width, figure.height) == original.size
        decoded = Image.open(io.BytesIO(figure.data)).convert("RGB")
        assert decoded.tobytes() == original.tobytes()
        assert figure.sha256 == hashlib.sha256(figure.data).hexdigest()
        x0, y0, x1, y1 = figure.bbox
        # Drawn 60 mm (170 pt) wide, 20 mm (57 pt) from the left edge.
        assert round(x0) == 57 and round(x1 - x0) == 170 and y1 > y0


def test_figures_are_only_extracted_when_asked_for():
    document = extract_text(pdf_with_figures(), content_type="application/pdf", filename=None)
    assert document.figures == ()


def test_the_figure_limit_keeps_the_first_figures():
    document = extract_text(
        pdf_with_figures(),
        content_type="application/pdf",
        filename=None,
        figure_limits=FigureLimits(max_figures=1),
    )
    assert [figure.page for figure in document.figures] == [1]


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def test_html_images_are_captioned_by_their_figcaption_and_other_formats_become_png():
    markup = (
        "<html><body><h1>Samples</h1><p>Two samples were measured.</p>"
        f"<figure><img src='{data_uri(red_disc())}'><figcaption>Figure 1: A red   disc "
        "on white.</figcaption></figure>"
        f"<p>Then the stripes.</p><img src='{data_uri(blue_stripes(), 'GIF')}' alt='stripes'>"
        "<img src='https://example.org/remote.png'></body></html>"
    )
    document = extract_text(
        markup.encode(), content_type="text/html", filename=None, figure_limits=LIMITS
    )

    first, second = document.figures
    assert caption_of(document, first) == "Figure 1: A red disc on white."
    assert first.page is None and first.bbox is None
    assert second.caption is None
    assert second.mime_type == "image/png" and second.data.startswith(b"\x89PNG")
    assert (second.width, second.height) == (96, 64)


def test_markdown_images_are_captioned_by_their_alt_text():
    source = (
        "# Samples\n\nTwo samples were measured.\n\n"
        f"![Figure 1: the red disc sample]({data_uri(red_disc())})\n\nMore text.\n"
    )
    document = extract_text(
        source.encode(), content_type="text/markdown", filename=None, figure_limits=LIMITS
    )

    (figure,) = document.figures
    assert caption_of(document, figure) == "Figure 1: the red disc sample"
    assert "base64" not in document.text


def test_broken_and_oversized_images_are_left_out():
    truncated = base64.b64encode(png(red_disc())[:60]).decode()  # a PNG's header, no pixels
    markup = (
        f"<p>Text.</p><img src='data:image/png;base64,AAAA'>"
        f"<img src='data:image/png;base64,{truncated}'><img src='{data_uri(red_disc())}'>"
    )
    document = extract_text(
        markup.encode(),
        content_type="text/html",
        filename=None,
        figure_limits=FigureLimits(max_bytes=len(png(red_disc())) - 1),
    )
    assert document.figures == ()


def test_captions_are_found_by_their_label_and_located_whatever_the_spacing():
    page = (
        "Body text.\nFigure 3: A long caption that\nruns over two lines.\nMore body.\n\n"
        "FIG. 4 Short"
    )
    assert page_captions(page) == [
        "Figure 3: A long caption that\nruns over two lines.",
        "FIG. 4 Short",
    ]
    text = "Intro.\n\nFigure 3: A long caption that runs over two lines.\nMore body."
    start, end = locate_caption(text, "Figure 3: A long caption that\nruns over  two lines.")
    assert text[start:end] == "Figure 3: A long caption that runs over two lines."
    assert locate_caption(text, "Figure 9: missing") is None
    assert locate_caption(text, "Figure 3", cursor=start + 1) is None
