"""Candidate quotes and names in a chunk, offered to extractors as the only choices they have.

Constrained decoding can restrict a model's anchors to the chunk's sentences and its entity
names to phrases of the chunk; these rule-based helpers list those choices (no tagger, no
downloads). Every candidate is an exact substring of the text it came from, so a model that
picks one quotes the source by construction.
"""

import re

from alexandria.textproc.item_quality_lexicon import DE_FUNCTION
from alexandria.textproc.segment import split_sentences

__all__ = ["candidate_anchors", "candidate_entities"]

ANCHOR_MAX_CHARS = 200
MAX_ENTITY_CANDIDATES = 40

# Words that end a noun phrase rather than belong to one: determiners, pronouns,
# prepositions, conjunctions, auxiliaries and modals, and a few frequent adverbs.
_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every", "all",
    "both", "either", "neither", "no", "such", "other", "another", "many", "much", "more", "most",
    "few", "fewer", "less", "least", "several", "own", "same", "its", "it", "it's", "they", "them",
    "their", "theirs", "he", "him", "his", "she", "her", "hers", "we", "us", "our", "you", "your",
    "i", "me", "my", "mine", "who", "whom", "whose", "which", "what", "where", "when", "why", "how",
    "whether", "if", "then", "than", "so", "as", "because", "since", "although", "though", "while",
    "until", "unless", "and", "or", "but", "nor", "yet", "of", "in", "on", "at", "by", "for",
    "with", "without", "within", "from", "to", "into", "onto", "over", "under", "about", "above",
    "below", "between", "among", "through", "during", "before", "after", "against", "near", "off",
    "out", "up", "down", "per", "via", "is", "are", "was", "were", "be", "been", "being", "am",
    "do", "does", "did", "done", "has", "have", "had", "having", "can", "could", "may", "might",
    "must", "shall", "should", "will", "would", "not", "also", "only", "just", "still", "even",
    "very", "too", "often", "usually", "always", "never", "sometimes", "there", "here",
    "around", "again", "already", "almost", "nearly", "quite", "rather", "really"
})  # fmt: skip
# Frequent verbs the suffix rules below miss. Words as often nouns ("sleep", "use") stay out.
_COMMON_VERBS = frozenset({
    "make", "makes", "made", "take", "takes", "took", "give", "gives", "gave", "get", "gets", "got",
    "keep", "keeps", "kept", "show", "shows", "find", "finds", "found", "lead", "leads", "led",
    "become", "becomes", "became", "seem", "seems", "affect", "affects", "improve", "improves",
    "reduce", "reduces", "increase", "increases", "raise", "raises", "lower", "lowers", "promote",
    "promotes", "contain", "contains", "remove", "removes", "offer", "offers", "develop",
    "develops", "protect", "protects", "recommend", "recommends", "build", "builds", "feel",
    "feels", "fall", "falls", "sit", "sits", "avoid", "avoids", "say", "says", "said", "mean",
    "means", "include", "includes", "allow", "allows", "require", "requires", "depend", "depends",
    "know", "knows", "think", "thinks", "disturb", "disturbs", "prevent", "prevents", "enhance",
    "enhances", "worsen", "worsens", "boost", "boosts"
})  # fmt: skip
# Lone words that are rarely a thing the text is about.
_NOT_NAMES = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "first",
    "second", "third", "last", "next", "new", "old", "good", "bad", "high", "low", "late", "early",
    "right", "left", "long", "short", "heavy", "light", "deep", "easy", "hard", "fast", "slow",
    "faster", "slower", "easier", "harder", "longer", "shorter", "earlier", "later"
})  # fmt: skip
# A third-person -s word right before one of these is a verb ("shifts the body clock").
_OBJECT_STARTERS = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "its", "their", "his", "her", "our", "some"
})  # fmt: skip
# Any word right before one of these particles is a verb ("slow down", "builds up").
_PARTICLES = frozenset({
    "up", "down", "out", "off", "away"
})  # fmt: skip
# Sentence adverbs and pronouns German capitalises at a sentence's start, beyond the function
# words of ``item_quality_lexicon``; casefolded as the words looked up ("Schließlich").
_DE_NOT_NAMES = frozenset(word.casefold() for word in {
    "heute", "gestern", "morgen", "dann", "danach", "damals", "jetzt", "deshalb", "daher",
    "darum", "jedoch", "außerdem", "zudem", "trotzdem", "dennoch", "sofern", "falls", "also",
    "so", "nun", "zuerst", "schließlich", "zunächst", "inzwischen", "etwa", "rund", "ca",
    "nie", "niemals", "immer", "manchmal", "nichts", "niemand", "beide", "einige", "mehrere",
    "wer", "was", "wo", "wann", "warum", "wie", "welche", "welcher", "welches", "dies", "das",
    "dabei", "dazu", "davon", "dafür", "dagegen", "hierzu", "laut", "gemäß", "sowie", "bzw",
    "ihm", "ihn", "ihnen", "uns", "euch", "mich", "dich", "mir", "dir", "denen", "dessen",
    "deren", "kann", "könnte", "können", "könnten", "mag", "möchte", "sei", "seien", "wäre",
    "wären", "würde", "würden", "hätte", "hätten", "ein", "eins", "zwei", "drei", "vier", "fünf"
})  # fmt: skip
# A provision of a statute is one name: "§ 44b UrhG", "§§ 44b und 60d UrhG", "Art. 3 DSGVO"
# (the statute's abbreviation starts and ends with a capital).
_LEGAL_REFERENCE = re.compile(
    r"(?:§§?|Art\.)\s?\d+[a-z]?(?:(?:,|\sund|\sbis)\s\d+[a-z]?)*"
    r"(?:\s(?:Abs\.|Nr\.|Satz|S\.)\s\d+[a-z]?)*\s[A-ZÄÖÜ][\wäöüß]*[A-Z]\b"
)
# Inflected adjectives and participles before a noun ("künstliche", "erneuerbaren").
_GERMAN_ADJECTIVE = re.compile(r"(?:e|en|er|es|em)$")
_WORD = re.compile(r"[^\W_](?:[\w'\u2019-]*\w)?")
_TERMINATED = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")
_CLAUSE_BREAK = re.compile(r"[;:,\u2013\u2014]\s+|\s+(?=(?:and|but|or|which|while|because)\s)")


def candidate_anchors(text: str, max_chars: int = ANCHOR_MAX_CHARS) -> list[str]:
    """The sentences of ``text``; longer ones split at clause boundaries, else at words.

    Headings and other lines without closing punctuation state no facts: they are left out
    unless the text has nothing else.
    """
    sentences = [sentence.of(text) for sentence in split_sentences(text)]
    statements = [s for s in sentences if _TERMINATED.search(s)] or sentences
    anchors: list[str] = []
    for sentence in statements:
        anchors.extend(_fit(sentence, max_chars))
    return list(dict.fromkeys(anchors))


def _fit(sentence: str, max_chars: int) -> list[str]:
    """``sentence`` as pieces of at most ``max_chars``, each an exact substring of it."""
    pieces: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(rest, 0, max_chars + 1)]
        breaks = [b for b in breaks if b >= max_chars // 4] or [
            m.start() for m in re.finditer(r"\s", rest[: max_chars + 1])
        ]
        cut = max(breaks) if breaks else max_chars
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def candidate_entities(
    text: str, limit: int = MAX_ENTITY_CANDIDATES, *, language: str = "en"
) -> list[str]:
    """Noun phrases of ``text`` in order of appearance: capitalised names, and per sentence
    the runs of content words between function words and verbs, plus each run's head noun.
    German capitalises every noun: there a phrase is a run of capitalised words with the
    adjectives before them (``_german_phrases``). Other languages get the English rules.

    Deduplicated case-insensitively (first spelling kept), at most ``limit``.
    """
    phrases_of = _german_phrases if language == "de" else _phrases
    found: list[str] = []
    for sentence in split_sentences(text):
        for phrase in phrases_of(text, sentence.start, sentence.end):
            found.append(phrase)
    seen: set[str] = set()
    unique = []
    for phrase in found:
        key = phrase.casefold()
        if key not in seen:
            seen.add(key)
            unique.append(phrase)
    return unique[:limit]


def _phrases(text: str, start: int, end: int) -> list[str]:
    """The candidate phrases of one sentence, each an exact slice of ``text``."""
    words = list(_WORD.finditer(text, start, end))
    phrases: list[str] = []
    run: list[re.Match[str]] = []

    def close_run() -> None:
        while run and _is_verb_like(run[-1].group(), last=True):
            run.pop()
        if run:
            phrase = text[run[0].start() : run[-1].end()]
            if _keep(phrase):
                phrases.append(phrase)
            head = run[-1].group()
            if len(run) > 1 and _keep(head):
                phrases.append(head)
        run.clear()

    for position, word in enumerate(words):
        token = word.group()
        lower = token.casefold()
        gap = text[run[-1].end() : word.start()] if run else " "
        if gap != " ":  # punctuation or a line break between words ends a phrase
            close_run()
        if lower in _FUNCTION_WORDS:
            close_run()
            continue
        last = _ends_phrase(text, words, position)
        following = words[position + 1].group().casefold() if position + 1 < len(words) else ""
        before_object = following in _OBJECT_STARTERS
        if following in _COMMON_VERBS:  # "coffee drinkers develop": the verb comes next
            run.append(word)
            continue
        if run and (
            following in _PARTICLES or _is_verb_like(token, last=last and not before_object)
        ):
            close_run()
            continue
        if not run and lower in _COMMON_VERBS:
            continue
        run.append(word)
    close_run()
    return phrases


def _german_phrases(text: str, start: int, end: int) -> list[str]:
    """German noun phrases of one sentence: runs of capitalised words that are no function
    words ("Max-Planck-Institut", "Marie Curie", "UrhG"), with the inflected adjectives right
    before them ("künstliche Intelligenz"), plus each longer run's last noun; a reference to
    a statute's provision is one phrase ("§ 44b UrhG")."""
    words = list(_WORD.finditer(text, start, end))
    phrases: list[str] = []
    run: list[re.Match[str]] = []
    references = list(_LEGAL_REFERENCE.finditer(text, start, end))

    def close_run() -> None:
        while run and not run[-1].group()[0].isupper():
            run.pop()  # a phrase ends on its noun
        if run:
            phrases.append(text[run[0].start() : run[-1].end()])
            if len(run) > 1:
                phrases.append(run[-1].group())
        run.clear()

    for position, word in enumerate(words):
        token = word.group()
        reference = next((r for r in references if r.start() <= word.start() < r.end()), None)
        if reference is not None:
            close_run()
            if word.end() == reference.end():  # the statute's abbreviation ends it
                phrases.extend((reference.group(), token))
            continue
        if run and text[run[-1].end() : word.start()] != " ":
            close_run()
        following = words[position + 1].group() if position + 1 < len(words) else ""
        if token.casefold() in DE_FUNCTION or token.casefold() in _DE_NOT_NAMES:
            close_run()
        elif (
            token[0].isupper()  # nouns and names
            or (token[0].isdigit() and run)  # "Nr. 5"
            or (_GERMAN_ADJECTIVE.search(token) and following[:1].isupper())
        ):
            run.append(word)
        else:
            close_run()
    close_run()
    return [p for p in phrases if _keep(p) and any(c.isalpha() for c in p)]


def _ends_phrase(text: str, words: list[re.Match[str]], position: int) -> bool:
    """Whether the word at ``position`` is the last of its phrase (what follows ends it)."""
    if position + 1 == len(words):
        return True
    following = words[position + 1]
    return (
        text[words[position].end() : following.start()] != " "
        or following.group().casefold() in _FUNCTION_WORDS
    )


def _is_verb_like(token: str, *, last: bool) -> bool:
    """A guess that ``token`` is a verb: known verbs, and -ed or third-person -s forms inside
    a phrase ("exercise improves sleep"); a final plural ("adenosine receptors") is a noun."""
    lower = token.casefold()
    if lower in _COMMON_VERBS:
        return True
    if lower.endswith("ed") and len(lower) > 4:
        return True
    return (
        not last
        and lower.endswith("s")
        and not lower.endswith(("ss", "us", "is", "ics"))
        and len(lower) > 3
    )


def _keep(phrase: str) -> bool:
    """Worth offering as a name: has a letter, is not a lone short word or a lone verb."""
    if not any(c.isalpha() for c in phrase):
        return False
    lower = phrase.casefold()
    if " " not in phrase and (
        len(phrase) < 3 or lower in _COMMON_VERBS or lower in _NOT_NAMES or lower.endswith("ly")
    ):
        return False
    return lower not in _FUNCTION_WORDS
