"""German word forms for the meaning guards (``meaning_guards``): opposites and a stemmer.

No German antonym data ships in a package that fits (GermaNet's licence forbids
redistribution, OdeNet comes as a 40 MB XML file): a few dozen common pairs are listed here.
"""

from functools import cache

# Opposites in German, in base forms (inflections are stemmed onto them, ``_german_stem``).
GERMAN_ANTONYMS = """
verbessern verschlechtern; erhöhen senken; erhöhen verringern; steigen sinken; steigen fallen;
zunehmen abnehmen; wachsen schrumpfen; fördern hemmen; fördern verhindern; stärken schwächen;
verlängern verkürzen; beschleunigen verlangsamen; vergrößern verkleinern; gewinnen verlieren;
öffnen schließen; beginnen enden; erlauben verbieten; bestätigen widerlegen; nützen schaden;
aktivieren hemmen; zustimmen ablehnen; akzeptieren ablehnen; anziehen abstoßen; heben senken;
hoch niedrig; höher niedriger; gut schlecht; besser schlechter; groß klein; größer kleiner;
mehr weniger; stark schwach; stärker schwächer; schnell langsam; schneller langsamer;
früh spät; früher später; alt jung; warm kalt; heiß kalt; wärmer kälter; leicht schwer;
einfach schwierig; lang kurz; länger kürzer; positiv negativ; hell dunkel; voll leer;
reich arm; häufig selten; teuer billig; sicher gefährlich; richtig falsch; wahr falsch;
gesund schädlich; Anstieg Rückgang; Zunahme Abnahme; Vorteil Nachteil; Erfolg Misserfolg;
Gewinn Verlust; erhöht gesenkt; legal illegal; möglich unmöglich; wirksam unwirksam
"""

_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_DE_SUFFIXES = ("ungen", "ung", "en", "er", "es", "em", "et", "st", "e", "n", "s", "t")


@cache
def german_antonyms() -> dict[str, frozenset[str]]:
    """GERMAN_ANTONYMS as a table of folded base forms, both ways."""
    table: dict[str, set[str]] = {}
    for pair in GERMAN_ANTONYMS.split(";"):
        a, b = (word.lower().translate(_FOLD) for word in pair.split())
        table.setdefault(a, set()).add(b)
        table.setdefault(b, set()).add(a)
    return {word: frozenset(others) for word, others in table.items()}


def german_lemma(word: str) -> str:
    """The base form in ``german_antonyms`` an inflection reaches ("verbessert",
    "gesenkt", "höheren"), else a crude stem (umlauts folded, participle "ge-" and endings
    cut) that matches "tötet" with "getötet" and "Bakterien" with "Bakterium" often enough."""
    word = word.lower().translate(_FOLD)
    table = german_antonyms()
    bare = [word]
    if word.startswith("ge") and len(word) >= 6 and word.endswith(("t", "en")):
        bare.append(word[2:])
    for base in bare:
        cut = [base[: -len(x)] for x in _DE_SUFFIXES if base.endswith(x) and len(base) > len(x) + 2]
        for candidate in [base, *cut, *(c + "en" for c in cut), *(c + "n" for c in cut)]:
            if candidate in table:
                return candidate
    stem = bare[-1]
    for _ in range(2):  # "Römern" -> "Römer" -> "Röm", as "Römer" -> "Röm"
        suffix = next((x for x in _DE_SUFFIXES if stem.endswith(x) and len(stem) - len(x) >= 3), "")
        stem = stem[: len(stem) - len(suffix)]
    return stem
