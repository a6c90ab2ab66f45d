"""A source's figures join its analysis: stored with their caption anchors when its upload is
extracted (the only time the images exist outside the file), embedded by clip_embed jobs
planned with the analysis's first jobs (``figures.services.ingestion``)."""

from typing import Any

from alexandria.figures.services.ingestion import store_figures
from alexandria.pipeline.services.graph import store_anchors
from alexandria.sources.models import Source
from alexandria.textproc.extract import ExtractedDocument


def store_extracted_figures(
    sender: Any, *, source: Source, document: ExtractedDocument, **_: Any
) -> None:
    """Receiver of ``sources.signals.upload_extracted``: the document's figures, each caption
    an anchor of the source's text like any other (within the same retention limits)."""
    if not document.figures:
        return
    spans = [figure.caption for figure in document.figures if figure.caption]
    anchors = store_anchors(source, spans, None) if spans else {}
    store_figures(source, document.figures, anchors)
