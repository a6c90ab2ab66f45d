"""The quality gate on knowledge items before they are stored (English and German).

Small models answer with JSON fragments, headings, half sentences and the document's title
where a claim belongs; sentence embeddings and anchors don't notice. ``item_problems`` names
what is wrong with an item in a few cheap, rule-based checks (word lists and suffix rules, no
tagger, no downloads), so the server can reject it with a reason a node owner can read:

- ``empty``, ``markup`` (JSON, HTML, Markdown, code), ``truncated`` (unbalanced brackets or
  quotes, ends on a comma, conjunction, article or preposition, or mid-word);
- a hypothesis must be a declarative statement: not a ``question``, not a ``heading`` (short,
  verbless or title-like), ``not_declarative`` (no finite verb), and not ``restates_title``;
- an instruction needs a goal that names an aim (``heading`` when it names none,
  ``statement_goal`` when it states a fact instead) and steps:
  ``no_steps``, each step well formed, ``repeated_steps`` when they are all the same.
"""

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alexandria.textproc.item_quality_lexicon import (
    ARTICLES,
    DANGLING,
    DE_FUNCTION,
    DE_NOT_VERBS,
    EN_FUNCTION,
    EN_NOUN_VERBS,
    EN_SAME_PAST,
    EN_VERBS,
    FINITE,
    OBJECT_STARTERS,
    PLURAL_SUBJECTS,
    PREPOSITIONS,
    QUESTION_STARTS,
    SHORT_ENDINGS,
    SINGULAR_SUBJECTS,
    WH_STARTS,
)

__all__ = ["Problem", "content_stems", "detect_language", "item_problems", "shared_content"]


HYPOTHESIS = "hypothesis"
INSTRUCTION = "instruction"
# A verbless text this short, without closing punctuation, reads as a heading.
HEADING_MAX_WORDS = 10
# Share of the title's content words an item may repeat, and no more, before it restates it.
TITLE_OVERLAP = 0.8

_WORD = re.compile(r"[^\W_](?:[\w'\u2019-]*[^\W_])?")
_TERMINATED = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")
_MARKUP = (
    (re.compile(r"[{}]"), "curly braces (JSON or code)"),
    (re.compile(r"""["'][\w ]{1,40}["']\s*:"""), "a quoted key followed by a colon (JSON)"),
    (re.compile(r"</?[a-zA-Z][\w-]*(?:\s[^<>]*)?/?>"), "an HTML tag"),
    (re.compile(r"^\s*#{1,6}\s"), "a Markdown heading"),
    (re.compile(r"\|.*\|"), "a table row"),
    (re.compile(r"`"), "code quotes"),
    (re.compile(r"\*\*|__"), "Markdown emphasis"),
    (re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+\S"), "a list marker"),
    (re.compile(r"^\s*[\[\]]|[\[\]]\s*$"), "a bracket at an end (a list)"),
    (re.compile(r"\\[nt\"]"), "an escape sequence"),
    (re.compile(r"\b[^\W\d_]+_[^\W\d_]+(?:_[^\W\d_]+)*\b"), "a code identifier (snake_case)"),
)
_PAIRS = {"(": ")", "[": "]", "{": "}", "\u201c": "\u201d", "\u201e": "\u201c"}


@dataclass(frozen=True)
class Problem:
    """What is wrong with an item: a stable ``code`` (counted per node) and a message."""

    code: str
    message: str


def _fold(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.casefold().replace("\u2019", "'"))
    return "".join(c for c in word if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def detect_language(text: str, hint: str = "") -> str:
    """ "en" or "de": the source's declared language when it names one of them, else the
    language whose function words the text uses more (German wins ties with umlauts)."""
    declared = hint.strip().casefold()[:2]
    if declared in ("en", "de"):
        return declared
    words = [w.casefold() for w in _words(text)]
    german = sum(w in DE_FUNCTION for w in words) + (2 if re.search(r"[äöüß]", text) else 0)
    english = sum(w in EN_FUNCTION for w in words)
    return "de" if german > english else "en"


def _stem(word: str) -> str:
    """A crude stem that folds plurals and verb endings of both languages together."""
    word = _fold(word).removesuffix("'s").replace("'", "")
    for suffix in ("ungen", "ation", "ieren", "ing", "ung", "ies", "ied", "ed", "es", "en",
                   "er", "e", "s", "t"):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_stems(text: str) -> set[str]:
    """The stems of a text's content words (function words of both languages left out)."""
    return {
        _stem(w)
        for w in _words(text)
        if w.casefold() not in EN_FUNCTION and w.casefold() not in DE_FUNCTION and len(w) > 1
    }


def shared_content(a: str, b: str) -> set[str]:
    """The content stems two texts share; a stem that begins the other counts when it has
    five letters or more ("radioactiv" and "radioactivity")."""
    mine, theirs = content_stems(a), content_stems(b)
    shared = mine & theirs
    for stem in mine - shared:
        if len(stem) >= 5 and any(o.startswith(stem) or (len(o) >= 5 and stem.startswith(o))
                                  for o in theirs):  # fmt: skip
            shared.add(stem)
    return shared


def _en_base(word: str) -> str | None:
    """The base form of an English -s or -ed word when it is a known verb."""
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("es", ""), ("ed", ""), ("s", ""),
                                ("ed", "e"), ("d", "")):  # fmt: skip
        if word.endswith(suffix):
            base = word[: -len(suffix)] + replacement
            if base in EN_VERBS:
                return base
            doubled = suffix == "ed" and len(base) > 2 and base[-1] == base[-2]
            if doubled and base[:-1] in EN_VERBS:  # stopped → stop
                return base[:-1]
    return None


def _en_finite(words: list[str]) -> bool:
    lower = [w.casefold() for w in words]
    for i, word in enumerate(lower):
        if word in FINITE["en"]:
            return True
        if i == 0:
            continue
        before = lower[i - 1]
        after = lower[i + 1] if i + 1 < len(lower) else ""
        if before in ARTICLES["en"] or before in PREPOSITIONS["en"]:
            continue
        if word.endswith("ed") and len(word) > 4:
            return True
        if word in EN_SAME_PAST:
            return True
        plural_subject = before in PLURAL_SUBJECTS["en"] or (
            before.endswith("s") and not before.endswith("ss") and len(before) > 3
        )
        if word.endswith("s") and not word.endswith(("'s", "ss", "ous", "ics", "sis", "ness")):
            if before in SINGULAR_SUBJECTS or _en_base(word):
                return True
            if after and after not in PREPOSITIONS["en"] and not plural_subject:
                return True
        if word in EN_VERBS and after in OBJECT_STARTERS:  # "... keep the brain awake"
            return True
        if plural_subject and (word in EN_VERBS or after in OBJECT_STARTERS):
            return True
        if word in EN_VERBS and after == "to" and i + 2 < len(lower):
            return True
        verb_like = word not in EN_FUNCTION and not word.endswith(("s", "ed", "ing", "ly"))
        if (
            verb_like
            and after
            and after not in PREPOSITIONS["en"]
            and _sentence_subject(lower, i - 1)
        ):
            return True
    return False


def _sentence_subject(lower: list[str], i: int) -> bool:
    """A plural noun opening the sentence (after an article, if any): "Wolves ..."."""
    opens = i == 0 or (i == 1 and lower[0] in ARTICLES["en"])
    word = lower[i]
    return opens and word.endswith("s") and not word.endswith(("ss", "'s")) and len(word) > 3


def _de_finite(words: list[str]) -> bool:
    lower = [w.casefold() for w in words]
    for i, (word, low) in enumerate(zip(words, lower, strict=True)):
        if low in FINITE["de"]:
            return True
        if i == 0 or not word.islower() or low in DE_FUNCTION or low in DE_NOT_VERBS:
            continue
        before = lower[i - 1]
        after_article = before in ARTICLES["de"] or before in PREPOSITIONS["de"]
        if after_article:
            continue
        noun_opens = words[i - 1][:1].isupper() and (i == 1 or lower[i - 2] in ARTICLES["de"])
        if noun_opens and i < len(words) - 1:  # verb second: "Die Zentralbank hob ..."
            return True
        if len(low) < 4:
            continue
        if low.endswith(("t", "te", "ten")):
            return True
        last = i == len(words) - 1
        subject = before in PLURAL_SUBJECTS["de"] or words[i - 1][:1].isupper()
        if low.endswith(("en", "ern", "eln")) and not last and subject:
            return True
    return False


def _has_finite_verb(words: list[str], language: str) -> bool:
    return _de_finite(words) if language == "de" else _en_finite(words)


def _names_an_aim(words: list[str], language: str) -> bool:
    """A goal names something to do: a verb in any form (imperative, infinitive, -ing)."""
    lower = [w.casefold() for w in words]
    if _has_finite_verb(words, language):
        return True
    if language == "de":
        return any(
            w.islower() and w.endswith(("en", "ern", "eln")) and w not in DE_FUNCTION for w in words
        )
    if lower and (
        (lower[0] in EN_VERBS and lower[0] not in EN_NOUN_VERBS)
        or (len(lower) > 1 and lower[1] in OBJECT_STARTERS)
    ):
        return True
    after_to = [w for before, w in itertools.pairwise(lower) if before == "to"]
    return any(w in EN_VERBS for w in after_to) or any(
        w.endswith("ing") and len(w) > 5 for w in lower
    )


def _markup(text: str) -> str | None:
    for pattern, what in _MARKUP:
        if pattern.search(text):
            return what
    if not re.search(r"[^\W\d_]", text):
        return "no letters"
    return None


def _unbalanced(text: str) -> str | None:
    stack = []
    closing = {v: k for k, v in _PAIRS.items() if k != "\u201e"}
    for char in text:
        if char in _PAIRS and not (char == "\u201c" and stack and stack[-1] == "\u201e"):
            stack.append(char)
        elif char in closing or (char == "\u201c" and stack and stack[-1] == "\u201e"):
            if not stack or _PAIRS[stack[-1]] != char:
                return f"an unmatched {char!r}"
            stack.pop()
    if stack:
        return f"an unclosed {stack[-1]!r}"
    if text.count('"') % 2:
        return 'an unclosed "'
    return None


def _truncated(text: str, language: str) -> str | None:
    unbalanced = _unbalanced(text)
    if unbalanced:
        return unbalanced
    stripped = text.rstrip()
    if re.search(r"[,;:\-\u2013\u2014/&]$|\.\.\.$|\u2026$", stripped):
        return f"it ends on {stripped[-1]!r}"
    if _TERMINATED.search(stripped):
        return None
    words = _words(stripped)
    if not words:
        return None
    last = words[-1].casefold()
    if last in DANGLING[language]:
        return f"it ends on {words[-1]!r}"
    if last.isalpha() and (len(last) <= 3 and last not in SHORT_ENDINGS):
        return f"it ends mid-word ({words[-1]!r})"
    if last.isalpha() and len(last) > 2 and not re.search(r"[aeiouyäöü]", last):
        return f"it ends mid-word ({words[-1]!r})"
    return None


def _form_problems(text: str, language: str, part: str) -> list[Problem]:
    """Problems any written part of an item can have: empty, markup, truncated."""
    if not text.strip():
        return [Problem("empty", f"{part} is empty")]
    markup = _markup(text)
    if markup:
        return [Problem("markup", f"{part} contains {markup}")]
    truncated = _truncated(text, language)
    if truncated:
        return [Problem("truncated", f"{part} is cut off: {truncated}")]
    return []


def _title_like(words: list[str], language: str) -> bool:
    """English Title Case: most words of three or more capitalised (German nouns always are)."""
    if language != "en" or len(words) < 3:
        return False
    content = [w for w in words if w.casefold() not in EN_FUNCTION]
    return bool(content) and sum(w[:1].isupper() for w in content) == len(content)


def _restates(text: str, title: str) -> bool:
    mine, theirs = content_stems(text), content_stems(title)
    if not mine or not theirs:
        return False
    return len(mine & theirs) / len(mine | theirs) >= TITLE_OVERLAP


def _statement_problems(text: str, language: str, title: str) -> list[Problem]:
    words = _words(text)
    lower = [w.casefold() for w in words]
    ended = bool(_TERMINATED.search(text.rstrip()))
    if text.rstrip().endswith("?") or (
        lower and lower[0] in QUESTION_STARTS[language] and not ended
    ):
        return [Problem("question", "a hypothesis states something; this asks a question")]
    if title and _restates(text, title):
        return [Problem("restates_title", "it restates the source's title")]
    if lower and lower[0] in WH_STARTS[language] and not ended:
        return [Problem("heading", "it reads as a heading (a wh- phrase, no statement)")]
    finite = _has_finite_verb(words, language)
    if not finite and len(words) <= HEADING_MAX_WORDS and not ended:
        return [Problem("heading", "it reads as a heading: short, no verb, no full stop")]
    if not finite:
        return [Problem("not_declarative", "it has no finite verb: it states nothing")]
    if _title_like(words, language) and not ended and len(words) <= HEADING_MAX_WORDS:
        return [Problem("heading", "it reads as a heading: every word capitalised")]
    return []


def _states_a_fact(goal: str, words: list[str], language: str) -> bool:
    """ "Blue light suppresses melatonin." is a claim, not an aim: a full sentence with a finite
    verb that does not open with a verb, "to", "how" or a gerund (or German "wie"/"um")."""
    if not words or not goal.rstrip().endswith("."):
        return False
    first = words[0].casefold()
    if language == "de":
        opens_aim = first in {"wie", "um"}
    else:
        # Any verb may open an imperative ("Tax tobacco to …"), noun-like ones included.
        opens_aim = (
            first in EN_VERBS
            or first in {"to", "how"}
            or (first.endswith("ing") and len(first) > 5)
        )
    # Only the main clause counts: "Tax tobacco to cut cancer costs." has its verbs in the
    # purpose clause ("to …", "um … zu", "so that …").
    purpose = {"to", "so", "um", "damit"}
    main = list(itertools.takewhile(lambda w: w.casefold() not in purpose, words))
    return not opens_aim and _has_finite_verb(main, language)


def _instruction_problems(goal: str, steps: Sequence[str], language: str) -> list[Problem]:
    problems = _form_problems(goal, language, "the goal")
    words = _words(goal)
    if not problems and not _names_an_aim(words, language):
        problems.append(Problem("heading", "the goal names no aim (no verb): a heading"))
    elif not problems and _states_a_fact(goal, words, language):
        problems.append(Problem("statement_goal", "the goal states a fact instead of an aim"))
    if not steps:
        return [*problems, Problem("no_steps", "an instruction needs at least one step")]
    for number, step in enumerate(steps, start=1):
        problems.extend(_form_problems(step, language, f"step {number}"))
    folded = {" ".join(_words(step.casefold())) for step in steps}
    if len(steps) > 1 and len(folded) == 1:
        problems.append(Problem("repeated_steps", "every step says the same"))
    return problems


def item_problems(
    kind: str,
    text: str,
    *,
    steps: Iterable[str] = (),
    source_title: str = "",
    language: str | None = None,
) -> list[Problem]:
    """What keeps an item from being stored, most telling first; empty when it may be.

    ``text`` is a hypothesis's claim or an instruction's goal; ``language`` is the source's
    declared language, if any (otherwise guessed from the text).
    """
    steps = list(steps)
    language = detect_language(" ".join([text, *steps]), language or "")
    if kind == INSTRUCTION:
        return _instruction_problems(text, steps, language)
    return _form_problems(text, language, "the claim") or _statement_problems(
        text, language, source_title
    )
