import random
import re

import pytest

from alexandria.textproc.fragments import (
    Fragment,
    QuoteBudget,
    anchor_verifies,
    fragment_text,
    quoted_ranges,
    span_sha256,
    text_fragment_url,
)

RUN, SHARE = 12, 0.2
WORD = re.compile(r"[^\W_]+(?:['\u2019]+[^\W_]+)*")


def numbered(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


def word_span(text: str, first: int, last: int) -> tuple[int, int]:
    """Character span of words first..last (inclusive)."""
    words = list(WORD.finditer(text))
    return words[first].start(), words[last].end()


def quoted_word_indexes(text: str, anchors: list[tuple[int, int, str, str]]) -> set[int]:
    """Indexes of the words the anchors' quotes overlap, counted independently of the code."""
    starts = [w.start() for w in WORD.finditer(text)]
    ends = [w.end() for w in WORD.finditer(text)]
    quoted = set()
    for start, end, text_start, text_end in anchors:
        for a, b in quoted_ranges(start, end, text_start, text_end):
            quoted |= {i for i in range(len(starts)) if starts[i] < b and ends[i] > a}
    return quoted


def longest_run(indexes: set[int]) -> int:
    best = run = 0
    for i in range(max(indexes, default=-1) + 2):
        run = run + 1 if i in indexes else 0
        best = max(best, run)
    return best


def budget(text: str, quoted=(), **kwargs) -> QuoteBudget:
    return QuoteBudget(text, quoted, max_run_words=RUN, max_quoted_share=SHARE, **kwargs)


def test_a_long_span_keeps_a_few_words_at_each_end():
    text = numbered(200)
    start, end = word_span(text, 10, 29)
    fragment = budget(text).quote([(start, end)])[0]
    assert (fragment.text_start, fragment.text_end) == ("w10 w11 w12", "w27 w28 w29")
    assert anchor_verifies(
        text, start, end, span_sha256(text[start:end]), fragment.text_start, fragment.text_end
    )


def test_a_short_span_is_quoted_whole_in_text_start():
    text = numbered(200)
    start, end = word_span(text, 5, 9)
    fragment = budget(text).quote([(start, end)])[0]
    assert (fragment.text_start, fragment.text_end) == ("w5 w6 w7 w8 w9", "")


def test_text_end_keeps_the_span_punctuation_and_text_start_its_opening():
    text = 'He said: "Knowledge graphs store facts as triples, and anchors ground them." Then more.'
    start = text.index('"')
    end = text.index(" Then")
    fragment = QuoteBudget(text, max_run_words=RUN, max_quoted_share=1.0).quote([(start, end)])[0]
    assert fragment.text_start == '"Knowledge graphs store'
    assert fragment.text_end == 'anchors ground them."'


def test_quotes_of_touching_anchors_never_join_into_a_run():
    text = numbered(1000)
    quotes = budget(text)
    anchors = []
    # Sentence-like spans of 8 words, each touching the next: whole-span quotes would join
    # into one run across all of them.
    for first in range(0, 200, 8):
        start, end = word_span(text, first, first + 7)
        fragment = quotes.quote([(start, end)])[0]
        anchors.append((start, end, fragment.text_start, fragment.text_end))
    quoted = quoted_word_indexes(text, anchors)
    assert quoted, "something is quoted"
    assert longest_run(quoted) < RUN


def test_overlapping_anchors_shrink_rather_than_extend_a_run():
    text = numbered(1000)
    quotes = budget(text)
    start, end = word_span(text, 100, 105)
    first = quotes.quote([(start, end)])[0]
    assert first.text_start == "w100 w101 w102 w103 w104 w105"
    # Overlaps the first quote and reaches on: whole it would make a run of 12.
    start, end = word_span(text, 103, 111)
    second = quotes.quote([(start, end)])[0]
    anchors = [
        (*word_span(text, 100, 105), first.text_start, first.text_end),
        (start, end, second.text_start, second.text_end),
    ]
    assert longest_run(quoted_word_indexes(text, anchors)) < RUN
    assert second.text_start  # it still quotes what fits


def test_existing_quotes_count_from_their_offsets():
    text = numbered(1000)
    start, end = word_span(text, 50, 60)
    left = word_span(text, 44, 49)  # six words touching the span on the left
    right = word_span(text, 61, 66)  # six on the right
    fragment = budget(text, [left, right]).quote([(start, end)])[0]
    quoted = quoted_word_indexes(
        text, [(*left, text[left[0] : left[1]], ""), (*right, text[right[0] : right[1]], "")]
    )
    quoted |= quoted_word_indexes(text, [(start, end, fragment.text_start, fragment.text_end)])
    assert longest_run(quoted) < RUN
    assert fragment.text_start.startswith("w50")  # the span's middle words are still free


def test_the_share_limit_is_never_exceeded_and_shrinks_quotes_to_nothing():
    text = numbered(100)  # 20 words may be quoted
    quotes = budget(text)
    fragments = []
    for first in range(0, 90, 10):
        fragments.append(quotes.quote([word_span(text, first, first + 9)])[0])
    counted = sum(
        len(WORD.findall(f.text_start)) + len(WORD.findall(f.text_end)) for f in fragments
    )
    assert counted <= 20
    assert fragments[0] == Fragment("w0 w1 w2", "w7 w8 w9")
    assert fragments[-1].text_start == "" and fragments[-1].text_end == ""


def test_a_window_keeps_early_anchors_from_spending_a_long_text_s_budget():
    text = numbered(1000)
    quotes = budget(text)
    window = word_span(text, 0, 99)  # 20 of its words may be quoted
    spent = 0
    for first in range(0, 100, 10):
        fragment = quotes.quote([word_span(text, first, first + 9)], window=window)[0]
        spent += len(WORD.findall(fragment.text_start)) + len(WORD.findall(fragment.text_end))
    assert spent == 20
    later = quotes.quote([word_span(text, 500, 509)], window=word_span(text, 500, 599))[0]
    assert (later.text_start, later.text_end) == ("w500 w501 w502", "w507 w508 w509")


def test_a_span_starting_inside_a_word_counts_that_word():
    text = "Knowledge graphs store facts as triples."
    start = text.index("nowledge")
    fragment = QuoteBudget(text, max_run_words=RUN, max_quoted_share=1.0).quote(
        [(start, len(text))]
    )[0]
    assert fragment.text_start == text[start:]


def test_no_quote_when_nothing_fits():
    text = numbered(20)  # 4 words may be quoted
    quotes = budget(text, [word_span(text, 0, 3)])
    assert quotes.quote([word_span(text, 10, 15)])[0] == quotes.quote([word_span(text, 10, 15)])[0]
    assert quotes.quote([word_span(text, 10, 15)])[0].text_start == ""


@pytest.mark.parametrize("seed", range(5))
def test_random_overlapping_anchors_respect_both_limits(seed):
    """Batches of random spans (a chunk's result each), many overlapping or touching."""
    rng = random.Random(seed)
    vocabulary = ["alpha", "beta", "gamma", "delta", "don't", "x-ray", "e.g."]
    text = " ".join(rng.choice(vocabulary) for _ in range(3000))
    words = list(WORD.finditer(text))
    total = len(words)
    quotes = budget(text)
    anchors = []
    for _ in range(50):
        chunk = rng.randrange(0, total // 200) * 200
        window = words[chunk].start(), words[min(total - 1, chunk + 199)].end()
        spans = set()
        for _ in range(rng.randrange(1, 12)):
            first = rng.randrange(chunk, min(total - 1, chunk + 199))
            last = min(total - 1, chunk + 199, first + rng.randrange(0, 30))
            spans.add((words[first].start(), words[last].end()))
        ordered = sorted(spans)
        for (start, end), fragment in zip(
            ordered, quotes.quote(ordered, window=window), strict=True
        ):
            assert anchor_verifies(
                text,
                start,
                end,
                span_sha256(text[start:end]),
                fragment.text_start,
                fragment.text_end,
            )
            anchors.append((start, end, fragment.text_start, fragment.text_end))
    quoted = quoted_word_indexes(text, anchors)
    assert quoted
    assert longest_run(quoted) < RUN
    assert len(quoted) <= SHARE * total


def test_anchors_stored_together_share_the_budget_in_turns():
    text = numbered(100)  # 20 words may be quoted
    spans = [word_span(text, first, first + 9) for first in range(0, 100, 10)]
    fragments = budget(text).quote(spans)
    assert fragments[0] == Fragment("w0", "w9")
    assert [(len(f.text_start.split()), len(f.text_end.split())) for f in fragments] == [
        (1, 1)
    ] * 10


def test_anchor_verifies_checks_offsets_hash_and_ends():
    text = "The library of Alexandria was one of the largest libraries of the ancient world."
    start, end = 4, 58
    digest = span_sha256(text[start:end])
    assert anchor_verifies(text, start, end, digest, "library of", "largest libraries")
    assert not anchor_verifies(text, start, end + 1, digest, "library of", "")
    assert not anchor_verifies(text, start, end, digest, "library at", "")
    assert not anchor_verifies(text, start, end, digest, "", "libraries")
    assert not anchor_verifies(text, start, end, "0" * 64, "", "")


def test_fragment_text_joins_the_ends():
    assert fragment_text("a b c", "x y z") == "a b c \u2026 x y z"
    assert fragment_text("a b c", "") == "a b c"
    assert fragment_text("", "") == ""


def test_text_fragment_links_follow_the_w3c_syntax():
    url = "https://example.org/page"
    assert text_fragment_url(url, "Honey bees", "show where") == (
        "https://example.org/page#:~:text=Honey%20bees,show%20where"
    )
    assert text_fragment_url(url, "x-ray, café & co") == (
        "https://example.org/page#:~:text=x%2Dray%2C%20caf%C3%A9%20%26%20co"
    )
    assert text_fragment_url(url + "#intro", "line\nbreak") == (
        "https://example.org/page#intro:~:text=line%20break"
    )
    assert text_fragment_url(url, "", "") == url
    assert text_fragment_url("", "words", "") == ""
