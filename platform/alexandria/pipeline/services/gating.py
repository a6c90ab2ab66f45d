"""Checks shared by the handlers: the source text's locator, and the copyright gate."""

import re
from collections import OrderedDict
from collections.abc import Iterable

from alexandria.knowledge.models import Anchor
from alexandria.sources.models import Source
from alexandria.textproc.anchors import SourceIndex
from alexandria.textproc.copygate import DEFAULT_RUN_WORDS, long_verbatim_runs

# Joins an output's texts for one copy-gate pass; not a word of any source, so no run of
# source words can span two texts.
_TEXT_SEPARATOR = " qqxalexandriaseparatorqq "
_INDEX_CACHE_SIZE = 8
_index_cache: OrderedDict[str, SourceIndex] = OrderedDict()


class SourceTextGone(Exception):
    """The source text was purged, so outputs can no longer be checked against it."""


def source_index(source: Source) -> SourceIndex:
    """The anchor locator over a source's normalised text, reused across results of a source."""
    if source.is_purged:
        raise SourceTextGone(f"the text of source {source.pk} has been purged")
    index = _index_cache.get(source.sha256)
    if index is None or index.source != source.text:
        index = SourceIndex(source.text)
        _index_cache[source.sha256] = index
        while len(_index_cache) > _INDEX_CACHE_SIZE:
            _index_cache.popitem(last=False)
    _index_cache.move_to_end(source.sha256)
    return index


def copied_runs(source: Source, texts: Iterable[str], *, n: int = DEFAULT_RUN_WORDS) -> list[str]:
    """Runs of ``n``+ words the texts share with the source outside its anchors."""
    if source.is_purged:
        raise SourceTextGone(f"the text of source {source.pk} has been purged")
    joined = _TEXT_SEPARATOR.join(t for t in texts if t)
    if not joined:
        return []
    allowed = Anchor.objects.filter(source=source).values_list("start", "end")
    return long_verbatim_runs(joined, source.text, n=n, allowed_spans=list(allowed))


def copy_reason(runs: list[str]) -> str:
    """The rejection reason for copied runs, quoting the start of the first one."""
    first = re.sub(r"\s+", " ", runs[0])
    preview = first if len(first) <= 80 else first[:77] + "..."
    return (
        f"copies {len(runs)} passage(s) of {DEFAULT_RUN_WORDS}+ words verbatim from the source "
        f"outside its anchors (copyright gate), e.g. {preview!r}"
    )
