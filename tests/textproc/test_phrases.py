from alexandria.textproc.phrases import (
    MAX_ENTITY_CANDIDATES,
    candidate_anchors,
    candidate_entities,
)

TEXT = (
    "Caffeine blocks adenosine receptors in the brain. Late afternoon coffee delays sleep "
    "onset for many adults. Variants of the CYP1A2 gene slow down caffeine metabolism. "
    "Marie Curie studied at the University of Paris."
)


def test_entities_are_noun_phrases_and_head_nouns_of_each_sentence():
    found = candidate_entities(TEXT)
    for wanted in (
        "Caffeine",
        "adenosine receptors",
        "receptors",
        "brain",
        "Late afternoon coffee",
        "coffee",
        "sleep onset",
        "adults",
        "Variants",
        "CYP1A2 gene",
        "caffeine metabolism",
        "Marie Curie",
        "University",
        "Paris",
    ):
        assert wanted in found, wanted
    for verb_or_function_word in ("blocks", "delays", "the", "many", "studied", "slow down"):
        assert verb_or_function_word not in found


def test_entities_are_exact_substrings_deduplicated_in_order():
    found = candidate_entities(TEXT + " Caffeine and caffeine again.")
    assert all(phrase in TEXT for phrase in found)
    assert len({phrase.casefold() for phrase in found}) == len(found)
    assert found.index("Caffeine") < found.index("brain") < found.index("Marie Curie")


def test_entities_never_span_punctuation_or_lines():
    found = candidate_entities("Sleep quality, mood\nand memory: all improve.")
    assert "Sleep quality" in found
    assert all("," not in phrase and "\n" not in phrase for phrase in found)


def test_entities_are_capped():
    text = " ".join(f"Thing{i} is here." for i in range(100))
    found = candidate_entities(text)
    assert len(found) == MAX_ENTITY_CANDIDATES
    assert found[0] == "Thing0"
    assert len(candidate_entities(text, limit=5)) == 5


def test_anchors_are_the_sentences():
    assert candidate_anchors(TEXT) == [
        "Caffeine blocks adenosine receptors in the brain.",
        "Late afternoon coffee delays sleep onset for many adults.",
        "Variants of the CYP1A2 gene slow down caffeine metabolism.",
        "Marie Curie studied at the University of Paris.",
    ]


def test_long_sentences_are_split_at_clauses_then_words_within_the_limit():
    clauses = ", ".join(f"clause number {i} says something about sleep" for i in range(12)) + "."
    words = " ".join(["word"] * 120) + "."
    for sentence in (clauses, words):
        pieces = candidate_anchors(sentence)
        assert len(pieces) > 1
        assert all(0 < len(piece) <= 200 and piece in sentence for piece in pieces)
        assert all(piece == piece.strip() for piece in pieces)
    assert candidate_anchors(clauses)[0].endswith("sleep,")
    assert candidate_anchors(words)[0].endswith("word")


def test_no_sentences_no_candidates():
    assert candidate_anchors("") == []
    assert candidate_entities("   ") == []


def test_headings_are_no_anchors_unless_there_is_nothing_else():
    text = "Caffeine and sleep\n\nCaffeine blocks adenosine receptors. It is \u201cbitter.\u201d"
    assert candidate_anchors(text) == [
        "Caffeine blocks adenosine receptors.",
        "It is \u201cbitter.\u201d",
    ]
    assert candidate_anchors("Caffeine and sleep") == ["Caffeine and sleep"]
