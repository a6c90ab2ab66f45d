"""Verbatim fingerprints of sources, and the copyright gate that reads them.

A source's fingerprint is made at ingestion from its text: the keyed hashes of its
``RETENTION_MAX_RUN_WORDS``-word shingles (``alexandria.textproc.shingles``). It outlives the
purge of the text, so "does this output repeat that many consecutive words of the source?"
has an answer for as long as the source exists, and it reveals no text: without the key
nobody can even test a guessed sentence against it. The key is one for the installation
(``RETENTION_FINGERPRINT_KEY``, by default derived from ``SECRET_KEY``), so the audit hashes a
stored text once and looks it up in every source's shingles at the same time; each fingerprint
records the id of its key and its shingle length, and one made otherwise is not used (it is
rebuilt while the text is kept, and reported by the audit once it is purged).
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from alexandria.sources.models import Source, SourceFingerprint
from alexandria.textproc import shingles

logger = logging.getLogger(__name__)

_HASH_DTYPE = np.dtype("<u8")


def fingerprint_key() -> bytes:
    """The installation's shingle-hashing key."""
    secret = settings.RETENTION_FINGERPRINT_KEY or settings.SECRET_KEY
    return hashlib.blake2b(secret.encode(), digest_size=32, person=b"alx-fingerprint").digest()


def current_key_id() -> str:
    return shingles.key_id(fingerprint_key())


def store_fingerprint(source: Source) -> SourceFingerprint:
    """Make (or remake) a source's fingerprint from its text, which must still be kept."""
    if source.is_purged:
        raise ValueError(f"source {source.pk} has no text to fingerprint: it was purged")
    key = fingerprint_key()
    tokens = [word.token for word in shingles.words(source.text)]
    hashes = shingles.shingle_hashes(tokens, key=key, n=settings.RETENTION_MAX_RUN_WORDS)
    fingerprint, _ = SourceFingerprint.objects.update_or_create(
        source=source,
        defaults={
            "hashes": np.unique(np.array(hashes, dtype=np.uint64)).astype(_HASH_DTYPE).tobytes(),
            "shingle_words": settings.RETENTION_MAX_RUN_WORDS,
            "word_count": len(tokens),
            "key_id": shingles.key_id(key),
        },
    )
    return fingerprint


def usable_fingerprints():
    """Fingerprints made with the current key and shingle length."""
    return SourceFingerprint.objects.filter(
        key_id=current_key_id(), shingle_words=settings.RETENTION_MAX_RUN_WORDS
    )


@dataclass(frozen=True)
class CopiedRun:
    """A run of a text's words that repeats a source: the words (as the text writes them), how
    many, and which of the indexed sources hold them."""

    text: str
    word_count: int
    source_ids: tuple[int, ...]


class ShingleIndex:
    """The shingle hashes of many sources in one sorted array: which source holds a hash."""

    def __init__(self, fingerprints: Iterable[SourceFingerprint]) -> None:
        parts, owners = [], []
        for fingerprint in fingerprints:
            part = np.frombuffer(bytes(fingerprint.hashes), dtype=_HASH_DTYPE)
            parts.append(part)
            owners.append(np.full(part.size, fingerprint.source_id, dtype=np.int64))
        self.key = fingerprint_key()
        self.run_words = settings.RETENTION_MAX_RUN_WORDS
        if not parts:
            self._hashes = np.empty(0, dtype=_HASH_DTYPE)
            self._owners = np.empty(0, dtype=np.int64)
            return
        hashes = np.concatenate(parts)
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._owners = np.concatenate(owners)[order]

    def __len__(self) -> int:
        return int(self._hashes.size)

    def owners(self, hashes: list[int]) -> np.ndarray:
        """The source id holding each hash (one of them where several do), 0 where none."""
        if not hashes or not self._hashes.size:
            return np.zeros(len(hashes), dtype=np.int64)
        wanted = np.array(hashes, dtype=np.uint64)
        at = np.minimum(np.searchsorted(self._hashes, wanted), self._hashes.size - 1)
        return np.where(self._hashes[at] == wanted, self._owners[at], 0)

    def copied_runs(self, text: str) -> list[CopiedRun]:
        """Each maximal run of ``run_words``+ words of ``text`` found in the indexed sources."""
        looked_up: list[np.ndarray] = []

        def known(hashes: list[int]) -> np.ndarray:
            looked_up.append(self.owners(hashes))
            return looked_up[-1] != 0

        runs = shingles.copied_runs(text, known, key=self.key, n=self.run_words)
        return [
            CopiedRun(run.text, run.word_count, self._holders(looked_up[0], run)) for run in runs
        ]

    def _holders(self, owners: np.ndarray, run: shingles.Run) -> tuple[int, ...]:
        run_shingles = owners[run.first_word : run.first_word + run.word_count - self.run_words + 1]
        return tuple(sorted(set(run_shingles.tolist()) - {0}))


def index_for_sources(source_ids: Iterable[int]) -> ShingleIndex:
    """The shingles of these sources. A source without a usable fingerprint gets one from its
    text while it is kept; a purged one without is left out, with a warning (the audit lists
    it)."""
    wanted = set(source_ids)
    fingerprints = {fp.source_id: fp for fp in usable_fingerprints().filter(source_id__in=wanted)}
    for source in Source.objects.filter(pk__in=wanted - fingerprints.keys()):
        if not source.is_purged:
            fingerprints[source.pk] = store_fingerprint(source)
    unchecked = sorted(wanted - fingerprints.keys())
    if unchecked:
        logger.warning("no usable verbatim fingerprint for sources %s: not checked", unchecked)
    return ShingleIndex(fingerprints.values())


def copied_runs(texts: Iterable[str], source_ids: Iterable[int]) -> list[CopiedRun]:
    """The copyright gate: runs of ``RETENTION_MAX_RUN_WORDS``+ consecutive words that the
    texts repeat of these sources, whether or not the sources' texts are still kept. Each text
    is checked on its own, so no run spans two of them."""
    index = index_for_sources(source_ids)
    return [run for text in texts if text for run in index.copied_runs(text)]


def copy_reason(runs: list[CopiedRun]) -> str:
    """Why an output is rejected for copying. It says where, never what: quoting the run would
    store the very words it must not."""
    longest = max(run.word_count for run in runs)
    sources = sorted({source_id for run in runs for source_id in run.source_ids})
    return (
        f"copies {len(runs)} passage(s) of {settings.RETENTION_MAX_RUN_WORDS}+ consecutive words "
        f"verbatim (the longest {longest} words) from source(s) {sources} (copyright gate)"
    )
