"""The cheap guards: what embeddings confuse, the guards tell apart (and paraphrases pass)."""

import pytest

from alexandria.layers.merge_guards import blocking_reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Smoking causes lung cancer.", "Lung cancer is caused by smoking."),
        (
            "Regular exercise lowers blood pressure.",
            "Blood pressure is lowered by regular exercise.",
        ),
        ("In adults, smoking causes cancer.", "Smoking causes cancer in adults."),
        ("Smoking leads to lung cancer.", "Lung cancer results from smoking."),
        (
            "Vitamin D improves sleep quality in older adults.",
            "In older adults, vitamin D improves the quality of sleep.",
        ),
        ("The company hired 3 engineers.", "The company hired three engineers."),
    ],
)
def test_paraphrases_pass(a, b):
    assert blocking_reason(a, b) is None
    assert blocking_reason(b, a) is None


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("Smoking causes lung cancer.", "Smoking does not cause lung cancer.", "negation"),
        ("Aspirin prevents strokes.", "Aspirin never prevents strokes.", "negation"),
        ("The drug works.", "The drug doesn't work.", "negation"),
        ("Exercise lowers blood pressure.", "Exercise raises blood pressure.", "opposite"),
        ("Dogs bite cats.", "Cats bite dogs.", "role_reversal"),
        ("Germany exports cars to China.", "China exports cars to Germany.", "role_reversal"),
        ("Smoking causes lung cancer.", "Smoking is caused by lung cancer.", "role_reversal"),
        (
            "In older adults, stress causes insomnia.",
            "In older adults, insomnia causes stress.",
            "role_reversal",
        ),
        (
            "The vaccine prevented 90% of infections.",
            "The vaccine prevented 60% of infections.",
            "quantity",
        ),
        ("The bridge is 300 metres long.", "The bridge is 30 metres long.", "quantity"),
        ("It took two years.", "It took five years.", "quantity"),
    ],
)
def test_guards_block(a, b, reason):
    assert blocking_reason(a, b) == reason
    assert blocking_reason(b, a) == reason
