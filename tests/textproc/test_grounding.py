import pytest

from alexandria.textproc.grounding import entity_grounded

SOURCE = (
    "In 1903 the prize went to Marie Curie and Pierre Curie. "
    + "Unrelated filler text keeps going for a while. " * 20
    + "Curie's laboratory in Paris studied radioactive elements, including polonium. "
    + "Neural networks and the CLASSES of models were discussed by Kurt Gödel."
)


def anchor_of(phrase):
    start = SOURCE.index(phrase)
    return start, start + len(phrase)


@pytest.mark.parametrize(
    ("entity", "aliases", "phrase"),
    [
        ("Marie Curie", [], "the prize went to"),
        ("marie   CURIE", [], "the prize went to"),
        ("Curie", [], "laboratory in Paris"),  # possessive in the source
        ("Paris's", [], "laboratory in Paris"),  # possessive in the name
        ("polonium", [], "radioactive elements"),  # near, not inside, the anchor
        ("neural network", [], "Neural networks"),  # plural in the source
        ("class", [], "the CLASSES of models"),
        ("Kurt Godel", [], "Kurt Gödel"),  # accents folded
        ("M. Sklodowska-Curie", ["Curie"], "laboratory in Paris"),  # matched by an alias
    ],
)
def test_entity_found_in_or_near_the_anchor(entity, aliases, phrase):
    assert entity_grounded(entity, aliases, SOURCE, *anchor_of(phrase))


@pytest.mark.parametrize(
    ("entity", "aliases", "phrase"),
    [
        ("Pierre Curie", [], "laboratory in Paris"),  # only far away from this anchor
        ("Albert Einstein", ["Einstein"], "the prize went to"),
        ("Cur", [], "laboratory in Paris"),  # whole words only
        ("", [], "the prize went to"),
    ],
)
def test_entity_absent_near_the_anchor(entity, aliases, phrase):
    assert not entity_grounded(entity, aliases, SOURCE, *anchor_of(phrase))


def test_window_size_matters():
    start, end = anchor_of("Neural networks")
    assert entity_grounded("polonium", [], SOURCE, start, end, window=100)
    assert not entity_grounded("polonium", [], SOURCE, start, end, window=5)
