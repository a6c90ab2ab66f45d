"""A scripted model behind a server that constrains decoding, as vLLM and llama.cpp do.

``GrammarConstrained(model)`` answers a chat request with what ``model`` would write, cut to
what the request's ``response_format`` schema lets a grammar produce: arrays end at
``maxItems``, strings at ``maxLength``, properties the schema does not name are never written,
and a value outside an enum becomes the choice that contains it (an anchor becomes the sentence
that holds it) or, failing that, the first choice. So a test sees what a node's contract
leaves of a model's answer: the tiny contract's handful of facts and missing fields, or the
capable contract's full answer.
"""

import json
from collections.abc import Callable
from typing import Any


def fit(value: Any, schema: dict[str, Any]) -> Any:
    """The nearest thing to ``value`` a grammar for ``schema`` (the subset decoding schemas
    use) lets through."""
    if "enum" in schema:
        return _closest_choice(value, schema["enum"])
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        branches = schema["anyOf"]
        branch = next((b for b in branches if _consts_agree(value, b)), branches[0])
        return fit(value, branch)
    if schema.get("type") == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        closed = schema.get("additionalProperties") is False
        return {
            name: fit(item, properties.get(name, {}))
            for name, item in value.items()
            if name in properties or not closed
        }
    if schema.get("type") == "array" and isinstance(value, list):
        kept = value[: schema.get("maxItems", len(value))]
        items = schema.get("items", {})
        return [fit(item, items) for item in kept]
    if schema.get("type") == "string" and isinstance(value, str):
        return value[: schema.get("maxLength", len(value))]
    return value


def _closest_choice(value: Any, choices: list[Any]) -> Any:
    if value in choices:
        return value
    if isinstance(value, str):
        for choice in choices:
            if isinstance(choice, str) and value in choice:
                return choice
    return choices[0]


def _consts_agree(value: Any, branch: dict[str, Any]) -> bool:
    """Whether ``value`` has the constants a branch of an anyOf fixes (a fact's "kind")."""
    if not isinstance(value, dict):
        return False
    constants = {
        name: sub["const"] for name, sub in branch.get("properties", {}).items() if "const" in sub
    }
    return all(value.get(name) == const for name, const in constants.items())


def requested_schema(request: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a chat request asks the server to decode with (json_schema, or
    llama-cpp-python's json_object with a schema), or None."""
    fmt = request.get("response_format") or {}
    return fmt.get("json_schema", {}).get("schema") or fmt.get("schema")


class GrammarConstrained:
    """Responder for the fake OpenAI server: ``model``'s answers, decoded under the request's
    schema; ``schemas`` records each request's schema by the kind it was for."""

    def __init__(self, model: Callable[[dict[str, Any]], str]) -> None:
        self.model = model
        self.schemas: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, request: dict[str, Any]) -> str:
        answer = json.loads(self.model(request))
        schema = requested_schema(request)
        if schema is None:
            return json.dumps(answer)
        name = request["response_format"].get("json_schema", {}).get("name", "")
        self.schemas.setdefault(name, []).append(schema)
        return json.dumps(fit(answer, schema))
