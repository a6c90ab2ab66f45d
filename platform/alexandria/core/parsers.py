"""A JSON parser that tells the caller plainly when the body is not UTF-8 or not JSON.

Every JSON endpoint (``DEFAULT_PARSER_CLASSES``, the node protocol, the exchange middleware)
parses with it, so what it refuses is refused everywhere with a 400 and a message: nesting
deeper than ``MAX_JSON_DEPTH`` (Python's parser and everything recursive after it would hit the
recursion limit), NaN, Infinity and numbers too large for a float (``1e999`` is no number the
database stores), and, except where a node's outputs are judged one by one, lone UTF-16
surrogates (``"\\ud800"``: no UTF-8 encodes them).
"""

import json
import re
from itertools import accumulate

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any request Alexandria defines (an exchange's facts sit at depth six).
MAX_JSON_DEPTH = 64
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictUtf8JSONParser(JSONParser):
    # Where outputs are judged one by one (the node protocol), a lone surrogate refuses only
    # the output that holds it, not the whole request.
    allow_lone_surrogates = False

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"The request body is not valid UTF-8 (invalid byte at offset {exc.start}). "
                "Send text encoded as UTF-8."
            ) from exc
        return self.loads(decoded)

    def loads(self, decoded: str):
        depth = json_depth(decoded)
        if depth > MAX_JSON_DEPTH:
            raise ParseError(
                f"The request body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are "
                "accepted."
            )
        try:
            data = json.loads(decoded, parse_constant=_refuse_constant, parse_float=_finite)
        except RecursionError as exc:  # unbalanced brackets the depth count did not see
            raise ParseError("The request body nests too deeply.") from exc
        except ValueError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}") from exc
        if (
            not self.allow_lone_surrogates
            and _SURROGATE_ESCAPE.search(decoded)
            and has_lone_surrogate(data)
        ):
            raise ParseError(
                "The request body holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape "
                "without its pair), which is no text. Send text encoded as UTF-8."
            )
        return data


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings aside).
    Cheap when the text has few brackets, linear in C otherwise."""
    opening = text.count("[") + text.count("{")
    if opening <= MAX_JSON_DEPTH:
        return opening  # cannot nest deeper than it has brackets
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def has_lone_surrogate(value) -> bool:
    """Whether a parsed JSON value holds a string no UTF-8 can encode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON (Python's parser accepts them; the database doesn't)."""
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number as a float, refused when it overflows to infinity (``1e999``)."""
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large a number")
    return number
