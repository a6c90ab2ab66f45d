"""What a release holds: one Parquet schema per config, each field with the sentence the
dataset card prints for it. Every record carries ``release_id`` (the release that last wrote
it) and ``updated_at`` (when it last changed); both stay out of its digest, so an unchanged
record keeps them from release to release."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")
IDS = pa.list_(pa.int64())
STRINGS = pa.list_(pa.string())


@dataclass(frozen=True)
class Config:
    name: str
    description: str
    fields: tuple[tuple[str, pa.DataType, str], ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, kind) for name, kind, _ in self.fields])


VERSIONING = (
    ("release_id", pa.string(), "The release that last wrote this record."),
    ("updated_at", TIME, "When this record last changed, as the releases saw it."),
)

ITEMS = Config(
    "items",
    "Hypotheses and instructions, on abstraction layer 1 (derived from sources) or above "
    "(abstracted from the layer below).",
    (
        ("id", pa.int64(), "Stable id of the item (the same in every release)."),
        ("kind", pa.string(), "hypothesis or instruction."),
        ("layer", pa.int16(), "Abstraction layer: 1 from sources, 2 and up from items below."),
        ("text", pa.string(), "The statement, or the instruction's aim."),
        ("status", pa.string(), "accepted (reviewed), or pending where the card says so."),
        ("details", pa.string(), "JSON: a hypothesis' stance, an instruction's goal and steps."),
        ("confidence", pa.float64(), "The model's confidence, when it gave one."),
        ("anchor_ids", IDS, "The item's own anchors (config anchors)."),
        ("source_ids", IDS, "Every source it is grounded in, down its derivation."),
        ("derived_from", IDS, "Released items of the layer below that it combines."),
        ("merged_ids", IDS, "Items merged into it (they are not released on their own)."),
        ("previous_version_id", pa.int64(), "The item an accepted edit replaced, if any."),
        ("prompt_version", pa.string(), "Version of the prompt that produced it."),
        ("age_rating", pa.int16(), "Highest minimum reader age of its sources (18: unrated)."),
        ("created_at", TIME, "When the item was stored."),
        *VERSIONING,
    ),
)

ANCHORS = Config(
    "anchors",
    "Located spans of sources: exact offsets into the source's normalised text, the span's "
    "SHA-256 and a few words of each end (a W3C text fragment), never the span itself.",
    (
        ("id", pa.int64(), "Stable id of the anchor."),
        ("source_id", pa.int64(), "The source (config sources)."),
        ("start", pa.int64(), "Offset of the span's first character in the normalised text."),
        ("end", pa.int64(), "Offset just past its last character."),
        ("span_sha256", pa.string(), "SHA-256 of text[start:end] (UTF-8)."),
        ("text_start", pa.string(), "The first words of the span (textStart)."),
        ("text_end", pa.string(), "The last words of the span (textEnd); may be empty."),
        ("link", pa.string(), "The source URL with a text directive highlighting the span."),
        *VERSIONING,
    ),
)

SOURCES = Config(
    "sources",
    "The texts items are grounded in: citation metadata, hashes and what the analysis "
    "learnt about each, never their text (deleted once analysed).",
    (
        ("id", pa.int64(), "Stable id of the source."),
        ("title", pa.string(), "Title as cited."),
        ("authors", pa.string(), "Authors as cited."),
        ("url", pa.string(), "Where the text is published."),
        ("doi", pa.string(), "DOI, when given."),
        ("licence_note", pa.string(), "The licence or terms the submitter gave."),
        ("language", pa.string(), "Language code, when known."),
        ("format", pa.string(), "text, markdown, html or pdf, as submitted."),
        ("sha256", pa.string(), "SHA-256 of the normalised text (offsets refer to it)."),
        ("file_sha256", pa.string(), "SHA-256 of the bytes as submitted, when recorded."),
        ("char_count", pa.int64(), "Characters of the normalised text."),
        ("genre", pa.string(), "Genre the analysis assigned."),
        ("category", pa.string(), "Category the analysis assigned."),
        ("keywords", STRINGS, "Keywords the analysis assigned."),
        ("summary", pa.string(), "A short summary written by the analysis (no copied runs)."),
        ("age_rating", pa.int16(), "Minimum reader age (0, 6, 12, 16, 18; null: unrated)."),
        ("created_at", TIME, "When the source was submitted."),
        *VERSIONING,
    ),
)

RELATIONS = Config(
    "relations",
    "Edges between items: merged_into (a merged item's id → the item that absorbed it), "
    "derived_from (an abstraction → an item it combines), and judged stances (supports, "
    "contradicts, unrelated: the other item → the claim).",
    (
        ("id", pa.string(), "Stable id: kind:subject_id:object_id."),
        ("kind", pa.string(), "merged_into, derived_from, supports, contradicts or unrelated."),
        ("subject_id", pa.int64(), "The item the edge starts from."),
        ("object_id", pa.int64(), "The released item it points to."),
        ("method", pa.string(), "How it was decided: guard, llm (a vote), provenance, judge."),
        ("score", pa.float64(), "Cosine similarity of the pair, for merges."),
        ("created_at", TIME, "When the edge was decided."),
        *VERSIONING,
    ),
)

DELETIONS = Config(
    "deletions",
    "Records of the previous release that this release no longer holds, and why.",
    (
        ("config", pa.string(), "items, anchors, sources or relations."),
        ("id", pa.string(), "The record's id (as a string, whatever its config)."),
        (
            "reason",
            pa.string(),
            "takedown, moderation (hidden), merged, withdrawn, rejected, unsupported, "
            "unreviewed, out_of_slice or removed.",
        ),
        ("release_id", pa.string(), "This release."),
    ),
)

RECORDS = (ITEMS, ANCHORS, SOURCES, RELATIONS)
CONFIGS = (*RECORDS, DELETIONS)
BY_NAME = {config.name: config for config in CONFIGS}
