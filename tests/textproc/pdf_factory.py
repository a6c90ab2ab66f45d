"""Build small real PDFs for tests: hand-written objects with a Helvetica text layer."""

import io
import zlib

from pypdf import PdfReader, PdfWriter


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: list[list[str]], title: str | None = None, *, compress: bool = False) -> bytes:
    """A PDF whose page i shows the lines pages[i] in Helvetica (WinAnsi/Latin-1 text only);
    ``compress``: page contents are Flate-compressed (repeated lines make a small bomb)."""
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{pid} 0 R" for pid in page_ids).encode(), len(pages)),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for page_id, lines in zip(page_ids, pages, strict=True):
        commands = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            commands += [f"({_escape(line)}) Tj", "T*"]
        commands.append("ET")
        stream = "\n".join(commands).encode("latin-1")
        stream_filter = b""
        if compress:
            stream, stream_filter = zlib.compress(stream, 9), b" /Filter /FlateDecode"
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d%s >>\nstream\n%s\nendstream" % (
            len(stream),
            stream_filter,
            stream,
        )
    info_id = None
    if title is not None:
        info_id = max(objects) + 1
        objects[info_id] = b"<< /Title (%s) >>" % _escape(title).encode("latin-1")

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[number]))
    xref = out.tell()
    size = max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[number])
    info = b" /Info %d 0 R" % info_id if info_id else b""
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (size, info, xref)
    )
    return out.getvalue()


def encrypted_pdf(user_password: str) -> bytes:
    """A text PDF encrypted with pypdf's writer (RC4, which needs no crypto library)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([["Secret text."]]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
