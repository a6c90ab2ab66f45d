"""A JSON parser that tells the caller plainly when the body is not UTF-8 or not JSON."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictUtf8JSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"The request body is not valid UTF-8 (invalid byte at offset {exc.start}). "
                "Send text encoded as UTF-8."
            ) from exc
        try:
            return json.loads(decoded, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}") from exc


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON (Python's parser accepts them; the database doesn't)."""
    raise ValueError(f"{name} is not a JSON number")
