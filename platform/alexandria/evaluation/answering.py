"""Asking an OpenAI-compatible model a multiple-choice question over a context, and reading
which option it chose.

The prompt follows LAION's: the context, the question, lettered options, one letter back.
Models do not always answer with a bare letter (``"B) 1794"``, ``"The answer is (B)."``,
``";B;"``, a reasoning block first, the option's words), so ``parse_choice`` accepts the
unambiguous forms and returns None for anything else, which counts as a wrong answer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import httpx

from alexandria.evaluation.dataset import LETTERS, Question

SYSTEM_PROMPT = """You answer multiple-choice questions about a document from the CONTEXT
you are given. Use the CONTEXT when it is relevant; otherwise give your best guess.
Reply with the letter of exactly one option and nothing else."""
NO_CONTEXT = "[no context]"
ATTEMPTS = 3
RETRY_DELAY_S = 2.0

_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


class LLMUnavailable(Exception):
    """The model server cannot be reached or refuses the requests."""


def question_messages(context: str, question: Question) -> list[dict[str, str]]:
    options = "\n".join(f"{LETTERS[i]}) {option}" for i, option in enumerate(question.options))
    letters = ", ".join(LETTERS[: len(question.options)])
    user = (
        f"CONTEXT:\n{context.strip() or NO_CONTEXT}\n\n"
        f"QUESTION:\n{question.question}\n\n"
        f"OPTIONS:\n{options}\n\n"
        f"Answer with one letter: {letters}."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_choice(reply: str, options: tuple[str, ...]) -> int | None:
    """The index of the option ``reply`` chose, or None when it chose none or several."""
    text = _THINKING.sub("", reply).strip()
    letters = LETTERS[: len(options)]
    letter = f"[{letters}]"
    for pattern in (
        rf"^\W*({letter})\W*$",  # "B", "(B)", ";B;", "**B**", "B."
        rf"^\W*({letter})[).:]",  # "B) 1794", "B. 1794", "B: oak"
        rf"(?i:answer|choice)\W{{0,3}}(?i:is\W+)?(?i:option\W+)?\(?({letter})\b",
        rf";({letter});",  # LAION's historical marker
    ):
        if match := re.search(pattern, text):
            return letters.index(match.group(1))
    lowered = text.lower()
    named = {i for i, option in enumerate(options) if option.lower() in lowered}
    # An option contained in another ("oak" in "oak and elm") is named only through the longer.
    named = {
        i for i in named if not any(options[i].lower() in options[j].lower() for j in named - {i})
    }
    if len(named) == 1:
        return named.pop()
    standalone = set(re.findall(rf"(?<![A-Za-z])({letter})(?![A-Za-z])", text))
    if len(standalone) == 1:
        return letters.index(standalone.pop())
    return None


@dataclass(frozen=True)
class Choice:
    index: int | None  # None: the reply named no single option
    reply: str


class Answerer:
    """One model on an OpenAI-compatible server, asked at temperature 0 so reruns agree."""

    def __init__(
        self, base_url: str, model: str, *, api_key: str = "", max_tokens: int = 256
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(300, connect=10))

    def close(self) -> None:
        self._client.close()

    def check(self) -> None:
        """Fail before any work when the server does not answer ``GET /models``."""
        try:
            response = self._client.get(f"{self.base_url}/models", timeout=10)
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"cannot reach {self.base_url}: {exc}") from None
        if response.status_code != 200:
            raise LLMUnavailable(
                f"{self.base_url}/models answered {response.status_code}: {response.text[:300]}"
            )

    def choose(self, context: str, question: Question) -> Choice:
        body = {
            "model": self.model,
            "messages": question_messages(context, question),
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(RETRY_DELAY_S * attempt)
            try:
                response = self._client.post(f"{self.base_url}/chat/completions", json=body)
            except httpx.HTTPError as exc:
                problem = f"cannot reach {self.base_url}: {exc}"
                continue
            if response.status_code == 200:
                reply = response.json()["choices"][0]["message"].get("content") or ""
                return Choice(parse_choice(reply, question.options), reply)
            problem = f"{self.base_url} answered {response.status_code}: {response.text[:300]}"
            if response.status_code < 500 and response.status_code != 429:
                break  # a refusal (bad model name, bad key) does not get better by asking again
        raise LLMUnavailable(problem)
