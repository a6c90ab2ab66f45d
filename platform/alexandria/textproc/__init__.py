"""Pure-Python text processing for grounding: extraction, normalisation, segmentation,
anchor location, word shingles for the verbatim-copy gate and entity grounding.
Imports no Django."""

from alexandria.textproc.anchors import AnchorMatch, AnchorRejection, SourceIndex, locate_anchor
from alexandria.textproc.extract import (
    BinaryContentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    EncryptedPdfError,
    ExtractedDocument,
    ExtractionError,
    UnreadablePdfError,
    UnsupportedFormatError,
    extract_text,
)
from alexandria.textproc.grounding import entity_grounded
from alexandria.textproc.normalize import normalize_text, sha256_hex
from alexandria.textproc.segment import Chunk, Sentence, TextSpan, chunk_text, split_sentences

__all__ = [
    "AnchorMatch",
    "AnchorRejection",
    "BinaryContentError",
    "Chunk",
    "DocumentTooLargeError",
    "EmptyDocumentError",
    "EncryptedPdfError",
    "ExtractedDocument",
    "ExtractionError",
    "Sentence",
    "SourceIndex",
    "TextSpan",
    "UnreadablePdfError",
    "UnsupportedFormatError",
    "chunk_text",
    "entity_grounded",
    "extract_text",
    "locate_anchor",
    "normalize_text",
    "sha256_hex",
    "split_sentences",
]
