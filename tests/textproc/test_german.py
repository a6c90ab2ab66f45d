"""German text processing: language detection, sentence splitting, candidate phrases."""

from alexandria.textproc.language import detect_language, language_code
from alexandria.textproc.phrases import candidate_entities
from alexandria.textproc.segment import split_sentences

LEGAL = (
    "Die Speicherung von Texten zur Analyse ist nach §§ 44b und 60d UrhG erlaubt, sofern der "
    "Zugang rechtmäßig ist."
)


def test_languages_are_detected_offline():
    assert detect_language(LEGAL) == "de"
    assert detect_language("Marie Curie was a physicist and chemist who studied in Paris.") == "en"
    assert detect_language("Le chat dort sur la chaise de la cuisine.") == "fr"
    assert detect_language("12345 67") == ""
    assert language_code("de-AT") == "de" and language_code("") == ""


def test_german_abbreviations_and_ordinals_do_not_end_sentences():
    text = (
        "Das gilt z. B. für Dr. Müller aus Nr. 5 der Liste. Am 3. Oktober 1990 wurde "
        "Deutschland vereinigt. Das ist erlaubt, d. h. ohne Zustimmung. Er zählte Äpfel, "
        "Birnen usw. Danach ging er. Im 19. Jh. wuchs die Stadt auf ca. 3 Mio. Einwohner."
    )
    assert [s.of(text) for s in split_sentences(text)] == [
        "Das gilt z. B. für Dr. Müller aus Nr. 5 der Liste.",
        "Am 3. Oktober 1990 wurde Deutschland vereinigt.",
        "Das ist erlaubt, d. h. ohne Zustimmung.",
        "Er zählte Äpfel, Birnen usw.",
        "Danach ging er.",
        "Im 19. Jh. wuchs die Stadt auf ca. 3 Mio. Einwohner.",
    ]


def test_german_candidates_are_noun_phrases_not_fragments():
    text = f"{LEGAL} Das Max-Planck-Institut in Leipzig untersucht künstliche Intelligenz."
    found = candidate_entities(text, language="de")
    assert found == [
        "Speicherung", "Texten", "Analyse", "§§ 44b und 60d UrhG", "UrhG", "Zugang",
        "Max-Planck-Institut", "Leipzig",
        "künstliche Intelligenz", "Intelligenz",
    ]  # fmt: skip
    assert all(phrase in text for phrase in found)
