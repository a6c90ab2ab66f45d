import itertools
import random

import pytest

from alexandria.textproc.normalize import normalize_text
from alexandria.textproc.segment import chunk_text, split_sentences


def sentence_texts(text):
    return [s.of(text) for s in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
        (
            "Fruit, e.g. Apples, i.e. red ones. Next.",
            ["Fruit, e.g. Apples, i.e. red ones.", "Next."],
        ),
        ("The U.S. Army won. It was late.", ["The U.S. Army won.", "It was late."]),
        (
            "He moved to the U.S. The rest is history.",
            ["He moved to the U.S.", "The rest is history."],
        ),
        ("Pi is 3.14 roughly. Yes.", ["Pi is 3.14 roughly.", "Yes."]),
        ("See Fig. 3 and pp. 12-14. Done.", ["See Fig. 3 and pp. 12-14.", "Done."]),
        ("J. R. R. Tolkien wrote it. Fine.", ["J. R. R. Tolkien wrote it.", "Fine."]),
        (
            "He waited... and waited. Then... Nothing.",
            ["He waited... and waited.", "Then...", "Nothing."],
        ),
        ("Wait\u2026 What?", ["Wait\u2026", "What?"]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("It ended (finally.) Good.", ["It ended (finally.)", "Good."]),
        ("Apples, pears, etc. The list goes on.", ["Apples, pears, etc.", "The list goes on."]),
        ("Smith et al. showed it. Also.", ["Smith et al. showed it.", "Also."]),
        ("A heading\n\nBody text here", ["A heading", "Body text here"]),
        ("a line\nwrapped here. Next.", ["a line\nwrapped here.", "Next."]),
        ("Visit example.com today. Ok.", ["Visit example.com today.", "Ok."]),
        ("'Really?' he asked. Yes.", ["'Really?' he asked.", "Yes."]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_sentences(text, expected):
    assert sentence_texts(text) == expected


def _random_document(rng, words=3000):
    vocab = ["alpha", "beta", "Dr.", "e.g.", "3.14", "U.S.", "gamma", "delta", "(note)", "said"]
    parts = []
    for _ in range(words):
        word = rng.choice(vocab)
        roll = rng.random()
        if roll < 0.08:
            word += "."
        elif roll < 0.09:
            word += "\n\n"
        elif roll < 0.095:
            word += "?"
        parts.append(word)
    return normalize_text(" ".join(parts))


def test_sentences_cover_all_text_with_only_whitespace_between():
    rng = random.Random(7)
    for _ in range(20):
        text = _random_document(rng, rng.randint(1, 600))
        sentences = split_sentences(text)
        position = 0
        for sentence in sentences:
            assert sentence.start < sentence.end
            assert text[position : sentence.start].strip() == ""
            assert not text[sentence.start].isspace() and not text[sentence.end - 1].isspace()
            assert "\n\n" not in sentence.of(text)
            position = sentence.end
        assert text[position:].strip() == ""


def test_chunks_are_contiguous_sentence_aligned_and_near_target():
    rng = random.Random(11)
    text = _random_document(rng, 5000)
    sentence_starts = {s.start for s in split_sentences(text)}
    sentence_ends = {s.end for s in split_sentences(text)}
    chunks = chunk_text(text, target_words=200)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert text[: chunks[0].start].strip() == "" and text[chunks[-1].end :].strip() == ""
    for previous, chunk in itertools.pairwise(chunks):
        assert text[previous.end : chunk.start].strip() == ""
    for chunk in chunks:
        assert chunk.start in sentence_starts and chunk.end in sentence_ends
        words = len(chunk.of(text).split())
        assert 50 <= words <= 400, words
    total = sum(len(c.of(text).split()) for c in chunks)
    assert total == len(text.split())
    assert 20 <= len(chunks) <= 30


def test_chunk_size_follows_target():
    text = " ".join(f"Sentence number {i} has six words." for i in range(200))
    small, large = chunk_text(text, target_words=30), chunk_text(text, target_words=300)
    assert len(small) > 5 * len(large)


def test_a_sentence_longer_than_twice_the_target_is_split_at_whitespace():
    long_sentence = " ".join(f"w{i}" for i in range(1000)) + "."
    text = f"Short start. {long_sentence} Short end."
    chunks = chunk_text(text, target_words=100, context_chars=50)
    for chunk in chunks:
        piece = chunk.of(text)
        assert len(piece.split()) <= 200
        assert piece == piece.strip()
    assert " ".join(c.of(text) for c in chunks) == text


def test_a_sentence_up_to_twice_the_target_is_not_split():
    sentence = " ".join(["word"] * 190) + "."
    chunks = chunk_text(f"{sentence} Tail sentence here.", target_words=100)
    assert any(c.of(f"{sentence} Tail sentence here.").startswith(sentence) for c in chunks)


def test_context_spans_are_sentence_aligned_and_bounded():
    text = " ".join(f"This is sentence {i} of the test." for i in range(300))
    sentences = split_sentences(text)
    starts, ends = {s.start for s in sentences}, {s.end for s in sentences}
    chunks = chunk_text(text, target_words=40, context_chars=120)
    assert chunks[0].context_before.start == chunks[0].context_before.end == chunks[0].start
    assert chunks[-1].context_after.start == chunks[-1].context_after.end == chunks[-1].end
    for chunk in chunks[1:-1]:
        before, after = chunk.context_before, chunk.context_after
        assert 0 < before.end - before.start <= 120 and 0 < after.end - after.start <= 120
        assert before.start in starts and before.end in ends and before.end <= chunk.start
        assert after.start in starts and after.end in ends and after.start >= chunk.end
        assert text[before.end : chunk.start].strip() == ""
        assert (chunk.context_start, chunk.context_end) == (before.start, after.end)


def test_context_falls_back_to_a_word_cut_when_a_sentence_is_too_long():
    long_sentence = "Filler " + " ".join(["filler"] * 39) + "."
    middle_sentence = "Middle " + " ".join(["word"] * 19) + "."
    text = f"{long_sentence} {middle_sentence} {long_sentence}"
    chunks = chunk_text(text, target_words=20, context_chars=50)
    middle = next(c for c in chunks if c.of(text) == middle_sentence)
    before, after = middle.context_before.of(text), middle.context_after.of(text)
    assert 0 < len(before) <= 50 and long_sentence.endswith(before) and before.startswith("f")
    assert before.endswith("filler.")
    assert 0 < len(after) <= 50 and long_sentence.startswith(after) and after.endswith("r")


def test_context_inside_a_split_sentence_is_the_neighbouring_piece():
    words = [f"w{i}" for i in range(300)]
    text = " ".join(words) + "."
    first, second, *_ = chunk_text(text, target_words=100, context_chars=40)
    assert second.context_before.end == first.end
    assert first.of(text).endswith(second.context_before.of(text))
    assert first.context_after.start == second.start


def test_chunk_text_of_empty_text():
    assert chunk_text("") == []
