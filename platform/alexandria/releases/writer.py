"""Streaming Parquet in the Hugging Face layout: ``data/<config>/train-0000N-of-0000M.parquet``.

Rows arrive one at a time and go out in row groups of ``row_group_rows``; a shard holds at
most ``shard_rows`` rows. Memory stays at one row group, whatever the release's size. The
shards' total is known only at the end, so they are renamed once the config is complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 20_000
SHARD_ROWS = 1_000_000
SPLIT = "train"


@dataclass
class WrittenFile:
    path: str  # relative to the release directory
    rows: int
    bytes: int = 0
    sha256: str = ""


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@dataclass
class ConfigWriter:
    """Writes one config's rows; ``close()`` names the shards and returns them."""

    root: Path
    config: str
    schema: pa.Schema
    row_group_rows: int = ROW_GROUP_ROWS
    shard_rows: int = SHARD_ROWS
    folder_name: str = "data"
    rows: int = 0
    _buffer: list[dict[str, Any]] = field(default_factory=list)
    _writer: pq.ParquetWriter | None = None
    _shard_rows: int = 0
    _shards: list[tuple[Path, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder = self.root / self.folder_name / self.config
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, row: dict[str, Any]) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= self.row_group_rows:
            self._flush()

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def _flush(self) -> None:
        while self._buffer:
            if self._writer is None:
                path = self.folder / f".part-{len(self._shards):05d}.parquet"
                self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
                self._shards.append((path, 0))
                self._shard_rows = 0
            room = self.shard_rows - self._shard_rows
            batch, self._buffer = self._buffer[:room], self._buffer[room:]
            self._writer.write_table(
                pa.Table.from_pylist(batch, schema=self.schema), row_group_size=len(batch)
            )
            self._shard_rows += len(batch)
            self.rows += len(batch)
            path, _ = self._shards[-1]
            self._shards[-1] = (path, self._shard_rows)
            if self._shard_rows >= self.shard_rows:
                self._writer.close()
                self._writer = None

    def close(self) -> list[WrittenFile]:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self._shards:  # an empty config is one empty shard: loaders find its schema
            pq.write_table(self.schema.empty_table(), self.folder / ".part-00000.parquet")
            self._shards.append((self.folder / ".part-00000.parquet", 0))
        total = len(self._shards)
        written = []
        for number, (path, rows) in enumerate(self._shards):
            final = self.folder / f"{SPLIT}-{number:05d}-of-{total:05d}.parquet"
            path.rename(final)
            written.append(WrittenFile(str(final.relative_to(self.root)), rows))
        return written
