"""The language of a source's text, detected offline at ingestion.

``lingua-language-detector`` (Rust, models inside the wheel, nothing downloaded) restricted to
the languages Alexandria expects, in low-accuracy mode (trigram models only: ~15 MB resident,
milliseconds per sample; accurate on anything longer than a sentence or two, which a source
is). Further languages need an entry in ``LANGUAGES`` only: the text rules keyed by language
(``segment``, ``phrases``, ``meaning_guards``) fall back to the English ones for the rest.
"""

from functools import cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

__all__ = ["LANGUAGES", "detect_language", "language_code"]

LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
# A sample from the start, the middle and the end is as telling as the whole text and keeps
# detection fast on a book.
SAMPLE_CHARS = 3000
MIN_CONFIDENCE = 0.5


@cache
def _detector() -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def _sample(text: str) -> str:
    if len(text) <= 3 * SAMPLE_CHARS:
        return text
    middle = len(text) // 2 - SAMPLE_CHARS // 2
    return "\n".join(
        (text[:SAMPLE_CHARS], text[middle : middle + SAMPLE_CHARS], text[-SAMPLE_CHARS:])
    )


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the text's language, or "" when no language is clearly ahead."""
    confidences = _detector().compute_language_confidence_values(_sample(text))
    if not confidences or confidences[0].value < MIN_CONFIDENCE:
        return ""
    return confidences[0].language.iso_code_639_1.name.lower()


def language_code(declared: str) -> str:
    """The two-letter code of a stored language ("de", "de-AT", "DE" -> "de"); "" for none."""
    return declared.strip().casefold()[:2]
