"""Anchors in tests: fixtures stored as the pipeline stores them (offsets, the span's hash and
a few words of each end, ``textproc.fragments``; no budget across a fixture's anchors), and the
check that stored anchors verify and keep the retention limits."""

from django.conf import settings

from alexandria.knowledge.models import Anchor
from alexandria.sources.models import Source
from alexandria.textproc.fragments import QuoteBudget, anchor_verifies, quoted_ranges, span_sha256
from alexandria.textproc.shingles import words


def anchor_on(source: Source, quote: str) -> Anchor:
    """The anchor of the first occurrence of ``quote`` in the source's text."""
    start = source.text.index(quote)
    end = start + len(quote)
    (fragment,) = QuoteBudget(
        source.text, max_run_words=settings.RETENTION_MAX_RUN_WORDS, max_quoted_share=1.0
    ).quote([(start, end)])
    anchor, _ = Anchor.objects.get_or_create(
        source=source,
        start=start,
        end=end,
        defaults={
            "span_sha256": span_sha256(quote),
            "text_start": fragment.text_start,
            "text_end": fragment.text_end,
        },
    )
    return anchor


def assert_anchors_verify_within_limits(source: Source, text: str) -> int:
    """Every anchor of ``source`` verifies against ``text`` (offsets, span hash, quoted ends),
    and their quotes together, words counted as the verbatim audit counts them, hold no run of
    RETENTION_MAX_RUN_WORDS words and at most RETENTION_MAX_QUOTED_SHARE of the text's words.
    Returns how many anchors there are."""
    found = words(text)
    quoted: set[int] = set()
    anchors = list(Anchor.objects.filter(source=source))
    for anchor in anchors:
        assert anchor_verifies(
            text, anchor.start, anchor.end, anchor.span_sha256, anchor.text_start, anchor.text_end
        ), anchor
        for start, end in quoted_ranges(
            anchor.start, anchor.end, anchor.text_start, anchor.text_end
        ):
            quoted.update(
                i for i, word in enumerate(found) if word.start < end and word.end > start
            )
    run = longest = 0
    for i in range(len(found)):
        run = run + 1 if i in quoted else 0
        longest = max(longest, run)
    assert longest < settings.RETENTION_MAX_RUN_WORDS, f"a run of {longest} quoted words"
    assert len(quoted) <= settings.RETENTION_MAX_QUOTED_SHARE * len(found), (
        f"{len(quoted)} of {len(found)} words quoted"
    )
    return len(anchors)
