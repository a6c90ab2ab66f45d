"""A source's text as the handlers check outputs against it: refused once purged, and its
anchor index cached, so the results of one source don't rebuild it each time."""

from collections import OrderedDict

from alexandria.sources.models import Source
from alexandria.textproc.anchors import SourceIndex
from alexandria.textproc.screening import Reference

_INDEX_CACHE_SIZE = 8
_index_cache: OrderedDict[str, SourceIndex] = OrderedDict()


class SourceTextGone(Exception):
    """The source text was purged, so outputs can no longer be checked against it."""


def retained_text(source: Source) -> str:
    """The source's normalised text; ``SourceTextGone`` once it has been purged."""
    if source.is_purged:
        raise SourceTextGone(f"the text of source {source.pk} has been purged")
    return source.text


def screening_reference(source: Source) -> Reference:
    """What a node's free text about ``source`` may repeat (``textproc.screening``): its text
    and title; once the text is purged, the title alone (what cannot be verified against the
    source any more is refused)."""
    return Reference("" if source.is_purged else source.text, source.title)


def source_index(source: Source) -> SourceIndex:
    """The anchor locator over a source's text, reused across results of a source."""
    text = retained_text(source)
    index = _index_cache.get(source.sha256)
    if index is None or index.source != text:
        index = SourceIndex(text)
        _index_cache[source.sha256] = index
        while len(_index_cache) > _INDEX_CACHE_SIZE:
            _index_cache.popitem(last=False)
    _index_cache.move_to_end(source.sha256)
    return index
