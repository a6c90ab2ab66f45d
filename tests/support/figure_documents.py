"""Documents with figures for the figure tests: a two-page PDF (fpdf2) whose pages each draw one
image under body text and caption it, and the images themselves (Pillow)."""

from __future__ import annotations

import io

from fpdf import FPDF
from PIL import Image, ImageDraw

CAPTIONS = (
    "Figure 1: A red disc on a white field, the first sample.",
    "Fig. 2. Blue horizontal stripes of the second sample.",
)
BODY = (
    "Photosynthesis converts light into chemical energy in the leaves of plants. The samples "
    "below were photographed under the same lamp, one after the other, and measured twice."
)


def red_disc() -> Image.Image:
    image = Image.new("RGB", (96, 96), "white")
    ImageDraw.Draw(image).ellipse((16, 16, 80, 80), fill=(220, 20, 20))
    return image


def blue_stripes() -> Image.Image:
    image = Image.new("RGB", (96, 64), "white")
    draw = ImageDraw.Draw(image)
    for top in range(0, 64, 16):
        draw.rectangle((0, top, 95, top + 7), fill=(20, 40, 220))
    return image


IMAGES = (red_disc, blue_stripes)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pdf_with_figures(extra_image: Image.Image | None = None) -> bytes:
    """Two pages, each: a paragraph, an image, its caption, another paragraph. An
    ``extra_image`` (an icon, say) is drawn on the first page without a caption."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for number, (make, caption) in enumerate(zip(IMAGES, CAPTIONS, strict=True), start=1):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Section {number}. {BODY}")
        pdf.image(io.BytesIO(png(make())), x=20, y=50, w=60)
        pdf.set_y(120)
        pdf.multi_cell(0, 6, caption)
        pdf.ln(6)
        pdf.multi_cell(0, 6, f"The discussion of sample {number} follows in the next section.")
        if extra_image is not None and number == 1:
            pdf.image(io.BytesIO(png(extra_image)), x=150, y=10, w=8)
    return bytes(pdf.output())


def upload_pdf_with_figures(url: str = ""):
    """A member's upload of ``pdf_with_figures()`` (its source as just stored: run the
    on-commit callbacks around the call, then refresh it, where the test needs ingestion)."""
    from alexandria.contributors.services import contributor_for_discord_user
    from alexandria.sources.models import Source
    from alexandria.sources.services import Citation, submit_upload

    member = contributor_for_discord_user("100000000000000001", display_name="member")
    outcome = submit_upload(
        pdf_with_figures(),
        content_type="application/pdf",
        filename="samples.pdf",
        citation=Citation(title="Two samples", url=url),
        submitted_by=member,
    )
    return Source.objects.get(pk=outcome.source.pk)
