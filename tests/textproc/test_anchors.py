import random
import re

import pytest

from alexandria.textproc.anchors import AnchorMatch, AnchorRejection, SourceIndex, locate_anchor

SOURCE = (
    "Knowledge graphs store facts as triples. The “grounded” approach ties every fact to a "
    "quote.\n\nIn 2021 the team showed that knowl-\nedge extraction works on  long   texts, "
    "and the results were robust. Marie Curie's work on radioactivity won two Nobel prizes."
)


def assert_valid(match, source):
    assert isinstance(match, AnchorMatch), match
    assert 0 <= match.start < match.end <= len(source)
    assert source[match.start : match.end] == match.span_text


def test_exact_match():
    match = locate_anchor(SOURCE, "store facts as triples")
    assert_valid(match, SOURCE)
    assert (match.method, match.score, match.span_text) == (
        "exact",
        100.0,
        "store facts as triples",
    )
    assert match.start == SOURCE.index("store facts")


def test_curly_quotes_match_straight_quotes():
    match = locate_anchor(SOURCE, 'The "grounded" approach ties every fact')
    assert_valid(match, SOURCE)
    assert match.method == "tolerant"
    assert match.span_text == "The “grounded” approach ties every fact"


def test_changed_whitespace_and_newlines():
    match = locate_anchor(SOURCE, "extraction works on long\ntexts")
    assert_valid(match, SOURCE)
    assert match.method == "tolerant"
    assert match.span_text == "extraction works on  long   texts"


def test_case_insensitive():
    match = locate_anchor(SOURCE, "KNOWLEDGE GRAPHS STORE FACTS")
    assert_valid(match, SOURCE)
    assert (match.method, match.span_text) == ("tolerant", "Knowledge graphs store facts")


def test_hyphenation_across_a_line_break():
    match = locate_anchor(SOURCE, "knowledge extraction works")
    assert_valid(match, SOURCE)
    assert match.method == "tolerant"
    assert match.span_text == "knowl-\nedge extraction works"


def test_soft_hyphen_and_dash_variants():
    source = "A well\u00adknown result \u2014 proven in 1990\u20132000 \u2014 holds."
    match = locate_anchor(source, "wellknown result - proven in 1990-2000 - holds")
    assert_valid(match, source)
    assert match.span_text == source[2:-1]


def test_fuzzy_near_miss_is_accepted():
    anchor = "the team showed that knowledge extraction worked on long texts"
    match = locate_anchor(SOURCE, anchor)
    assert_valid(match, SOURCE)
    assert match.method == "fuzzy"
    assert 90 <= match.score < 100
    assert match.span_text == "the team showed that knowl-\nedge extraction works on  long   texts"


def test_fuzzy_match_is_snapped_to_word_boundaries():
    match = locate_anchor(SOURCE, "results were robustly. Marie Curie's work on radioactivity")
    assert_valid(match, SOURCE)
    assert match.method == "fuzzy"
    start, end = match.start, match.end
    assert not SOURCE[start - 1].isalnum() and not SOURCE[end].isalnum()


def test_invented_anchor_is_rejected():
    rejection = locate_anchor(SOURCE, "The committee concluded that quantum computers are obsolete")
    assert isinstance(rejection, AnchorRejection)
    assert rejection.reason == "below_threshold"
    assert rejection.best_score is not None and rejection.best_score < 90


def test_short_invented_anchor_is_not_found():
    rejection = locate_anchor(SOURCE, "purple zebra")
    assert isinstance(rejection, AnchorRejection)
    assert rejection.reason == "not_found"


@pytest.mark.parametrize(
    ("anchor", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("ab", "too_short"),
        ("the", "too_short"),
        ("The", "too_short"),
        ("...", "too_short"),
        ("a.", "too_short"),
    ],
)
def test_empty_and_too_short_anchors_are_rejected(anchor, reason):
    rejection = locate_anchor(SOURCE, anchor)
    assert isinstance(rejection, AnchorRejection)
    assert rejection.reason == reason
    assert rejection.message


def test_three_character_anchor_is_allowed():
    assert_valid(locate_anchor("The DNA helix.", "DNA"), "The DNA helix.")


def test_threshold_is_respected():
    anchor = "the team showed that knowledge extraction worked on long texts"
    assert isinstance(locate_anchor(SOURCE, anchor, fuzzy_threshold=99), AnchorRejection)


DUPLICATES = "Intro. The model is accurate. Middle part here. The model is accurate. End."


def test_duplicate_prefers_the_occurrence_in_the_hint_window():
    second = DUPLICATES.rindex("The model")
    match = locate_anchor(DUPLICATES, "The model is accurate", hint_start=second - 5)
    assert_valid(match, DUPLICATES)
    assert (match.start, match.outside_window, match.occurrences) == (second, False, 2)
    first = locate_anchor(DUPLICATES, "The model is accurate", hint_start=0, hint_end=30)
    assert first.start == DUPLICATES.index("The model")
    unhinted = locate_anchor(DUPLICATES, "The model is accurate")
    assert unhinted.start == DUPLICATES.index("The model")


def test_tolerant_occurrence_in_window_beats_exact_one_outside():
    source = "The Model Is Accurate here. Later: The model is accurate."
    match = locate_anchor(source, "The model is accurate", hint_start=0, hint_end=27)
    assert (match.method, match.start, match.outside_window) == ("tolerant", 0, False)


def test_anchor_beyond_the_hint_window_is_flagged():
    window_end = SOURCE.index("In 2021")
    match = locate_anchor(SOURCE, "won two Nobel prizes", hint_start=0, hint_end=window_end)
    assert_valid(match, SOURCE)
    assert match.outside_window
    inside = locate_anchor(SOURCE, "store facts as triples", hint_start=0, hint_end=window_end)
    assert not inside.outside_window


def test_nearest_occurrence_to_the_window_wins():
    source = " ".join(["filler"] * 50).join(["Alpha beta gamma."] * 3)
    positions = [i for i in range(len(source)) if source.startswith("Alpha beta gamma", i)]
    match = locate_anchor(
        source, "Alpha beta gamma", hint_start=positions[2] - 20, hint_end=positions[2] - 10
    )
    assert match.start == positions[2] and match.outside_window


def test_fuzzy_prefers_the_hint_window():
    sentence = "The protein folds into a stable helical structure at room temperature"
    source = f"{sentence}. " + "Unrelated words fill the middle. " * 30 + f"{sentence}."
    second = source.rindex("The protein")
    near_miss = sentence.replace("stable", "stabel")
    match = locate_anchor(source, near_miss, hint_start=second, hint_end=len(source))
    assert (match.method, match.start, match.outside_window) == ("fuzzy", second, False)


def test_long_anchor_is_trimmed_to_whole_leading_sentences():
    sentences = [
        f"Sentence {i} states a distinct and verifiable fact about item {i}." for i in range(10)
    ]
    source = "Preamble. " + " ".join(sentences)
    anchor = " ".join(sentences[:6])
    match = locate_anchor(source, anchor, max_len=200)
    assert_valid(match, source)
    assert match.trimmed and len(match.span_text) <= 200
    assert match.span_text == " ".join(sentences[:3])


def test_long_single_sentence_anchor_is_cut_at_a_word():
    source = "Start. " + " ".join(f"word{i}" for i in range(200)) + "."
    anchor = source[7:600]
    match = locate_anchor(source, anchor, max_len=100)
    assert_valid(match, source)
    assert match.trimmed and len(match.span_text) <= 100
    assert match.start == 7 and source[match.end] == " "


def test_short_anchor_is_not_trimmed():
    match = locate_anchor(SOURCE, "store facts as triples", max_len=200)
    assert not match.trimmed


def test_source_index_builds_its_folded_view_once_and_agrees_with_locate_anchor():
    index = SourceIndex(SOURCE)
    anchors = [
        "KNOWLEDGE GRAPHS",
        'the "grounded" approach',
        "knowledge extraction works",
        "won two Nobel prizes",
        "the team showed that knowledge extraction worked on",
    ]
    results = [index.locate(anchor) for anchor in anchors]
    view = index._tolerant_view()[0]
    assert index.locate("KNOWLEDGE GRAPHS") == results[0]
    assert index._tolerant_view()[0] is view
    assert results == [locate_anchor(SOURCE, anchor) for anchor in anchors]


def _random_source(rng):
    words = [
        "alpha",
        "Beta",
        "gamma",
        "“quoted”",
        "knowl-\nedge",
        "co\u00adop",
        "naïve",
        "Straße",
        "İstanbul",
        "—",
        "3.14",
        "end.",
        "\n\n",
        "x",
        "a",
        "the",
        "\u2026",
    ]
    joiners = [" ", "  ", "\n", " \t "]
    return "".join(rng.choice(words) + rng.choice(joiners) for _ in range(rng.randint(5, 80)))


def _mutate(rng, text):
    chars = list(text)
    for _ in range(rng.randint(0, 3)):
        position = rng.randrange(len(chars))
        chars[position] = rng.choice(["e", " ", "", "'", "\n", chars[position].upper()])
    return "".join(chars)


def test_invariant_holds_for_random_sources_and_anchors():
    rng = random.Random(1234)
    matched = 0
    for _ in range(1500):
        source = _random_source(rng)
        start = rng.randrange(len(source))
        anchor = source[start : start + rng.randint(1, 120)]
        if rng.random() < 0.5:
            anchor = _mutate(rng, anchor)
        if rng.random() < 0.2:
            anchor = anchor.upper()
        hint_start = rng.choice([None, rng.randrange(len(source))])
        hint_end = None if hint_start is None else hint_start + rng.randint(0, 200)
        result = locate_anchor(
            source,
            anchor,
            hint_start=hint_start,
            hint_end=hint_end,
            max_len=rng.choice([20, 60, 200]),
        )
        if isinstance(result, AnchorMatch):
            matched += 1
            assert_valid(result, source)
            assert len(result.span_text) <= 200
        else:
            assert result.reason in {"empty", "too_short", "not_found", "below_threshold"}
    assert matched > 700


def test_exact_substrings_are_always_found():
    rng = random.Random(99)
    for _ in range(500):
        source = _random_source(rng)
        start = rng.randrange(len(source))
        anchor = source[start : start + rng.randint(10, 80)].strip()
        result = locate_anchor(source, anchor)
        words = re.findall(r"\w+", anchor)
        if sum(map(len, words)) >= 3 and [w.casefold() for w in words] != ["the"]:
            assert_valid(result, source)
            assert source[result.start : result.end].strip() == result.span_text
