"""The dataset card (``README.md``): a YAML header a Hugging Face dataset repository reads
(licence, configs and their files, features, sizes) and a description of every field and of
the retention rules. Written by hand, no YAML library: every value is quoted JSON."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from .schema import CONFIGS, Config
from .writer import SPLIT

SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))  # fmt: skip


def _dtype(kind: pa.DataType) -> tuple[str, str]:
    if pa.types.is_list(kind):
        return "list", str(kind.value_type)
    if pa.types.is_timestamp(kind):
        return "dtype", f"timestamp[{kind.unit}, tz={kind.tz}]"
    return "dtype", str(kind)


def _size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "n>10M")


def _header(meta: dict[str, Any], sizes: dict[str, tuple[int, int]], license_: str) -> list[str]:
    q = json.dumps
    largest = max((rows for rows, _ in sizes.values()), default=0)
    lines = ["---", f"license: {q(license_)}", f"pretty_name: {q(meta['title'])}"]
    lines += ["size_categories:", f"- {q(_size_category(largest))}", "configs:"]
    for config in CONFIGS:
        lines += [f"- config_name: {q(config.name)}", "  data_files:"]
        lines += [f"  - split: {SPLIT}", f"    path: {q(f'data/{config.name}/{SPLIT}-*.parquet')}"]
        if config.name == "items":
            lines.append("  default: true")
    lines.append("dataset_info:")
    for config in CONFIGS:
        rows, size = sizes[config.name]
        lines += [f"- config_name: {q(config.name)}", "  features:"]
        for name, kind, _ in config.fields:
            key, value = _dtype(kind)
            lines += [f"  - name: {q(name)}", f"    {key}: {q(value)}"]
        lines += ["  splits:", f"  - name: {SPLIT}", f"    num_examples: {rows}"]
        lines += [f"  download_size: {size}"]
    lines.append("---")
    return lines


def _fields(config: Config, rows: int) -> list[str]:
    lines = [f"### `{config.name}` ({rows:,} rows)", "", config.description, ""]
    lines += ["| field | type | meaning |", "|---|---|---|"]
    for name, kind, meaning in config.fields:
        lines.append(f"| `{name}` | `{kind}` | {meaning} |")
    return [*lines, ""]


def render_card(meta: dict[str, Any], sizes: dict[str, tuple[int, int]], license_: str) -> str:
    """``meta``: release_id, created, kind, previous, slice, title, pending (bool)."""
    kind = (
        "a full snapshot"
        if meta["kind"] == "full"
        else f"a diff from release `{meta['previous']}`: rows added or changed since it, and "
        "the `deletions` config (apply it with `alexandria.releases.snapshots.apply_diff`)"
    )
    lines = _header(meta, sizes, license_)
    lines += [
        "",
        f"# {meta['title']}",
        "",
        f"Release `{meta['release_id']}` of Alexandria's knowledge base, created "
        f"{meta['created']}: {kind}. Previous release: `{meta['previous'] or 'none'}`. "
        f"Slice: {json.dumps(meta['slice']) if meta['slice'] else 'everything'}.",
        "",
        "Every statement is grounded: it cites anchors, spans located at exact character "
        "offsets of a source's normalised text, with the span's SHA-256 and a few words of "
        "each end, so a reader holding the source finds every cited passage again. "
        "`manifest.json` lists every file with its SHA-256, size and row count; `state/` holds "
        "each record's digest and version, from which the next release's diff is computed.",
        "",
        "```python",
        "from datasets import load_dataset",
        'items = load_dataset("parquet", data_dir="data/items")  # or any config below',
        "```",
        "",
        "## What is in it, and what never is",
        "",
        "- Items that reviewers accepted, whose evidence supports them (a `verify_support` "
        "vote, or relevant provenance for layers 2 and up), that are not merged into another "
        "item, hidden by moderators or withdrawn. Merged items appear only as "
        "`merged_into` relations to the item that absorbed them.",
    ]
    if meta["pending"]:
        lines.append(
            "- **This release also holds pending items, which no reviewer has checked yet** "
            "(`status` says which)."
        )
    lines += [
        "- No source text: texts are deleted once analysed (copyright retention). Anchors "
        "keep offsets, hashes and at most a few words of each end of a span; nothing in a "
        "release repeats 12 consecutive words of a source (each release is checked with the "
        "retention audit before it is published).",
        "- Takedowns: a source taken down at its rights holder's request leaves the next "
        "release, with the items that rested on it alone, its anchors and relations; "
        "`deletions` lists every id withdrawn since the previous release, and why.",
        "- Ids are stable across releases; `release_id` and `updated_at` on every record say "
        "when it last changed.",
        "",
        "## Fields",
        "",
    ]
    for config in CONFIGS:
        lines += _fields(config, sizes[config.name][0])
    return "\n".join(lines)
