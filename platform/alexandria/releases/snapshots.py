"""Reading releases back: a release's tables and record state, applying a diff to the full
snapshot before it (the next full snapshot, exactly), and the release's strings for the
retention audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from alexandria.retention.audit import Column, string_leaves

from .schema import BY_NAME, RECORDS

STATE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("digest", pa.binary(16)),
        ("release_id", pa.string()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)


def read_config(release: Path, config: str, folder: str = "data") -> pa.Table:
    files = sorted((release / folder / config).glob("*.parquet"))
    schema = BY_NAME[config].schema if folder == "data" else STATE_SCHEMA
    return (
        pa.concat_tables([pq.read_table(f, schema=schema) for f in files])
        if files
        else (schema.empty_table())
    )


def read_snapshot(release: Path) -> dict[str, pa.Table]:
    """A release's record configs, each sorted by id."""
    return {c.name: read_config(release, c.name).sort_by("id") for c in RECORDS}


def read_state(release: Path) -> dict[str, dict[str, tuple[bytes, str, object]]]:
    """Per config: record id → (digest, release_id, updated_at) of the full snapshot at that
    release (a diff release has it too)."""
    state = {}
    for config in RECORDS:
        table = read_config(release, config.name, folder="state")
        state[config.name] = {
            row_id: (digest, release_id, updated)
            for row_id, digest, release_id, updated in zip(
                *(table.column(n).to_pylist() for n in STATE_SCHEMA.names), strict=True
            )
        }
    return state


def apply_diff(base: dict[str, pa.Table], diff: Path) -> dict[str, pa.Table]:
    """The full snapshot after ``diff``: ``base``'s rows minus the diff's deletions and the
    rows it rewrites, plus the diff's rows. Chains: apply_diff(apply_diff(full, d1), d2)."""
    deletions = read_config(diff, "deletions")
    result = {}
    for config in RECORDS:
        changed = read_config(diff, config.name)
        table = base[config.name]
        gone = deletions.filter(pc.equal(deletions["config"], config.name))["id"]
        drop = pa.concat_arrays(
            [gone.combine_chunks(), pc.cast(changed["id"], pa.string()).combine_chunks()]
        )
        keep = pc.invert(pc.is_in(pc.cast(table["id"], pa.string()), value_set=drop))
        result[config.name] = pa.concat_tables([table.filter(keep), changed]).sort_by("id")
    return result


def _file_rows(path: Path, column: str) -> Iterator[list[str]]:
    for batch in pq.ParquetFile(path).iter_batches(columns=[column]):
        for value in batch.column(0).to_pylist():
            yield list(string_leaves(value))


def release_columns(release: Path) -> Iterator[Column]:
    """Every string column of every Parquet file of a release, and its card and manifest, as
    the retention audit scans a store."""
    for path in sorted(release.rglob("*.parquet")):
        schema = pq.read_schema(path)
        for field in schema:
            kind = field.type.value_type if pa.types.is_list(field.type) else field.type
            if pa.types.is_string(kind):
                yield Column(
                    f"release:{path.relative_to(release)}",
                    field.name,
                    lambda path=path, name=field.name: _file_rows(path, name),
                )
    for name in ("README.md", "manifest.json"):
        if (release / name).exists():
            text = (release / name).read_text(encoding="utf-8")
            yield Column(f"release:{name}", "text", lambda text=text: iter([text.splitlines()]))
