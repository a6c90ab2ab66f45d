"""The shape every job kind shares, so the backend and the nodes agree on inputs and outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import jsonschema_rs
from jsonschema import Draft202012Validator

Runner = Literal["llm", "clip"]
Messages = list[dict[str, Any]]


def payload_as_user_message(system_prompt: str, payload: dict[str, Any]) -> Messages:
    """Default prompt: the kind's instructions, then the payload as JSON for the model to read."""
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]


def item_schema(max_chars: int) -> dict[str, Any]:
    """A knowledge item as payloads hand it to a node: its id and text."""
    return {
        "type": "object",
        "required": ["id", "text"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "text": {"type": "string", "minLength": 1, "maxLength": max_chars},
        },
    }


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its versioned JSON contracts and how a node turns a payload into work.

    ``build_messages`` turns a payload into OpenAI chat messages for ``llm`` kinds; when left
    out, the system prompt followed by the payload as JSON is used. ``clip`` kinds don't use it.

    ``decoding_schema`` may give, per payload, a narrower schema for constrained decoding only
    (enums of the payload's ids, quotes and names; tight array bounds): every output it admits
    must also match ``output_schema``, which alone decides validity. Small models produce
    grounded output when the grammar only lets them pick from what the payload offers.
    """

    name: str
    version: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    runner: Runner = "llm"
    system_prompt: str = ""
    build_messages: Callable[[dict[str, Any]], Messages] | None = None
    decoding_schema: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None

    def __post_init__(self) -> None:
        if self.runner not in ("llm", "clip"):
            raise ValueError(f"kind {self.name!r}: unknown runner {self.runner!r}")
        Draft202012Validator.check_schema(self.input_schema)
        Draft202012Validator.check_schema(self.output_schema)
        if self.runner == "llm" and self.build_messages is None:
            if not self.system_prompt:
                raise ValueError(f"llm kind {self.name!r} needs a system_prompt or build_messages")
            prompt = self.system_prompt
            object.__setattr__(
                self, "build_messages", lambda payload: payload_as_user_message(prompt, payload)
            )

    # Validators are built once per kind: building one costs more than most validations.
    # Each schema gets two: jsonschema words the errors; jsonschema_rs (compiled) answers
    # "valid?" about a hundred times faster, and nearly every payload and output is valid.
    @cached_property
    def _input_validators(self) -> tuple[Any, Draft202012Validator]:
        return _validators(self.input_schema)

    @cached_property
    def _output_validators(self) -> tuple[Any, Draft202012Validator]:
        return _validators(self.output_schema)

    def input_errors(self, payload: Any) -> list[str]:
        """Every way ``payload`` breaks the input schema (empty when it is valid)."""
        return _errors(*self._input_validators, payload)

    def schema_for_decoding(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The schema to constrain decoding with: the kind's narrower one if it has one."""
        narrowed = self.decoding_schema(payload) if self.decoding_schema is not None else None
        return narrowed if narrowed is not None else self.output_schema

    def output_errors(self, output: Any) -> list[str]:
        """Every way ``output`` breaks the output schema (empty when it is valid)."""
        return _errors(*self._output_validators, output)


def _validators(schema: dict[str, Any]) -> tuple[Any, Draft202012Validator]:
    return jsonschema_rs.Draft202012Validator(schema), Draft202012Validator(schema)


def _errors(compiled: Any, validator: Draft202012Validator, instance: Any) -> list[str]:
    """What the compiled validator accepts is valid; jsonschema words the errors of the rest
    and rules on what the compiled one cannot read (not JSON: a dict with an int key)."""
    try:
        if compiled.is_valid(instance):
            return []
    except ValueError:
        pass
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: e.json_path)
    ]
