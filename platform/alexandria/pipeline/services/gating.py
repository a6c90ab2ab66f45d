"""The copyright gate: outputs must not copy long passages of their source outside anchors."""

import re
from collections.abc import Iterable

from alexandria.knowledge.models import Anchor
from alexandria.pipeline.services.source_texts import retained_text
from alexandria.sources.models import Source
from alexandria.textproc.copygate import DEFAULT_RUN_WORDS, long_verbatim_runs

# Joins an output's texts for one copy-gate pass; not a word of any source, so no run of
# source words can span two texts.
_TEXT_SEPARATOR = " qqxalexandriaseparatorqq "


def copied_runs(source: Source, texts: Iterable[str], *, n: int = DEFAULT_RUN_WORDS) -> list[str]:
    """Runs of ``n``+ words the texts share with the source outside its anchors."""
    text = retained_text(source)
    joined = _TEXT_SEPARATOR.join(t for t in texts if t)
    if not joined:
        return []
    allowed = Anchor.objects.filter(source=source).values_list("start", "end")
    return long_verbatim_runs(joined, text, n=n, allowed_spans=list(allowed))


def copy_reason(runs: list[str]) -> str:
    """The rejection reason for copied runs, quoting the start of the first one."""
    first = re.sub(r"\s+", " ", runs[0])
    preview = first if len(first) <= 80 else first[:77] + "..."
    return (
        f"copies {len(runs)} passage(s) of {DEFAULT_RUN_WORDS}+ words verbatim from the source "
        f"outside its anchors (copyright gate), e.g. {preview!r}"
    )
