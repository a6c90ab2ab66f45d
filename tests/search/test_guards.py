"""The cheap guards, one class of look-alike at a time: what embeddings confuse, the guards
tell apart, and the paraphrases of each class still pass (to the vote)."""

import pytest

from alexandria.layers.merge_decision import decide_merge, normalise, parse_instruction
from alexandria.textproc.meaning_guards import antonyms, blocking_reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # voice, converse phrasing and moved clauses
        ("Smoking causes lung cancer.", "Lung cancer is caused by smoking."),
        (
            "Regular exercise lowers blood pressure.",
            "Blood pressure is lowered by regular exercise.",
        ),
        ("Smoking leads to lung cancer.", "Lung cancer results from smoking."),
        ("In adults, smoking causes cancer.", "Smoking causes cancer in adults."),
        ("When demand rises, prices go up.", "Prices go up when demand rises."),
        ("The jury acquitted the defendant.", "The defendant was acquitted by the jury."),
        ("Vitamin D improves bone density.", "The density of bones is improved by vitamin D."),
        # double negation and negation scope
        ("The test is not unreliable.", "The test is reliable."),
        ("The plan not only saved money but also time.", "The plan saved money and time."),
        ("The drug is ineffective in adults.", "The drug does not work in adults."),
        # hedges of the same kind, units and number words
        ("Zinc may shorten colds.", "Zinc might shorten colds."),
        ("The road is 3 km long.", "The road is 3000 m long."),
        ("Half of the students passed.", "50% of the students passed."),
        ("The company hired 3 engineers.", "The company hired three engineers."),
        ("Add one cup of rice.", "Add 1 cup of rice."),
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
        ("The reform cut costs.", "The reform failed to cut costs.", "negation"),
        ("The vaccine is effective.", "The vaccine is ineffective.", "negation"),
        ("Exercise lowers blood pressure.", "Exercise raises blood pressure.", "antonym"),
        ("Exports grew quickly.", "Imports grew quickly.", "antonym"),
        ("The tumour was benign.", "The tumour was malignant.", "antonym"),
        ("Tariffs raise prices.", "Tariffs may raise prices.", "hedging"),
        ("Fluoride prevents decay.", "Studies suggest fluoride prevents decay.", "hedging"),
        ("Rents fell.", "There is some evidence that rents fell.", "hedging"),
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
        ("Output doubled.", "Output tripled.", "quantity"),
        ("The road is 3 km long.", "The road is 3 m long.", "quantity"),
        ("Statins lower cholesterol.", "Statins lower cholesterol in mice.", "specialisation"),
        ("Exercise improves memory.", "Aerobic exercise improves memory.", "specialisation"),
        ("The Treaty of Rome founded it.", "The Treaty of Lisbon founded it.", "different_entity"),
    ],
)
def test_guards_block(a, b, reason):
    assert blocking_reason(a, b) == reason
    assert blocking_reason(b, a) == reason


def test_antonyms_come_from_the_lexical_table():
    table = antonyms()
    assert "decrease" in table["increase"] and "shallow" in table["deep"]
    assert len(table) > 5000


def test_normalisation_ignores_case_spacing_punctuation_and_width():
    assert normalise("\uff24\uff2e\uff21  carries genetic-information!") == normalise(
        "dna carries genetic information"
    )
    assert normalise("Bees find the food.") == normalise("bees find food")
    assert normalise("Prices rose 1.5%.") != normalise("Prices rose 15%.")
    assert normalise("A cause of floods.") != normalise("The cause of floods.")


def test_instruction_format_reads_numbering_and_bullets():
    assert parse_instruction("Boil an egg\n1. Fill a pot\n2) Add the egg\n- Wait") == (
        "Boil an egg",
        ["Fill a pot", "Add the egg", "Wait"],
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Bees dance.", "bees dance", ("merge", "normalised_equal")),
        ("Bees dance.", "Bees sing.", ("apart", "dissimilar")),
        ("Bees dance.", "Bees do not dance.", ("apart", "negation")),
        ("Bees dance.", "Honey bees dance to show food.", ("apart", "specialisation")),
        (
            "Bees dance to show food.",
            "Bees perform a dance to signal food.",
            ("verify", "guards_passed"),
        ),
    ],
)
def test_decide_merge_rules(a, b, expected):
    similarity = 0.5 if expected[1] == "dissimilar" else 0.9
    decision = decide_merge(a, b, "hypothesis", similarity, recall=0.8)
    assert (decision.decision, decision.reason) == expected
    assert decision.similarity == similarity


def test_instruction_steps_in_another_order_stay_apart():
    a = "Make tea\n1. Boil the water\n2. Add the leaves\n3. Wait three minutes"
    reworded = (
        "Make tea\n1. Bring water to the boil\n2. Put in the tea leaves\n3. Wait three minutes"
    )
    reordered = "Make tea\n1. Add the leaves\n2. Boil the water\n3. Wait three minutes"
    assert decide_merge(a, reworded, "instruction", 0.95, recall=0.8).decision == "verify"
    assert decide_merge(a, reordered, "instruction", 0.99, recall=0.8).reason == "step_order"
    bullets = "Make tea\n- Boil the water\n- Add the leaves\n- Wait three minutes"
    assert decide_merge(a, bullets, "instruction", 0.99, recall=0.8).decision == "merge"
