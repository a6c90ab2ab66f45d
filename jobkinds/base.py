"""The shape every job kind shares, so the backend and the nodes agree on inputs and outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import jsonschema_rs
from jsonschema import Draft202012Validator

Runner = Literal["llm", "clip"]
Messages = list[dict[str, Any]]

# Output contracts: how much a node's model is held to. A node declares its model class (one
# of these names) and each job it leases says which contract its output answers to.
# "tiny": grammar-narrowed decoding (the kind's ``decoding_schema``) and the kind's
# ``tiny_limits``, so a 135M model stays grounded; "capable": the full output schema with
# bounds sized to the payload (``capable_limits``), for models that follow instructions.
TINY = "tiny"
CAPABLE = "capable"
CONTRACTS = (TINY, CAPABLE)


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

    ``decoding_schema`` may give, per payload, a narrower schema for constrained decoding under
    the tiny contract only (enums of the payload's ids, quotes and names; tight array bounds):
    every output it admits must also match ``output_schema`` and ``tiny_limits``. Small models
    produce grounded output when the grammar only lets them pick from what the payload offers.

    ``tiny_limits`` and ``capable_limits`` (the latter per payload) cap top-level arrays of
    the output under each contract ({"facts": 6}); the node and the server both enforce them.
    """

    name: str
    version: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    runner: Runner = "llm"
    system_prompt: str = ""
    build_messages: Callable[[dict[str, Any]], Messages] | None = None
    decoding_schema: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    tiny_limits: Mapping[str, int] = field(default_factory=dict)
    capable_limits: Callable[[dict[str, Any]], dict[str, int]] | None = None

    def __post_init__(self) -> None:
        if self.runner not in ("llm", "clip"):
            raise ValueError(f"kind {self.name!r}: unknown runner {self.runner!r}")
        arrays = {
            name
            for name, sub in self.output_schema.get("properties", {}).items()
            if sub.get("type") == "array"
        }
        if not set(self.tiny_limits) <= arrays:
            raise ValueError(f"kind {self.name!r}: tiny_limits name no top-level array")
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

    def limits(self, contract: str, payload: dict[str, Any] | None = None) -> Mapping[str, int]:
        """The most items each capped top-level array may hold under ``contract``; capable
        limits are sized to the payload, so without one there are none beyond the schema's."""
        if contract == TINY:
            return self.tiny_limits
        if contract != CAPABLE:
            raise ValueError(f"unknown output contract {contract!r}")
        if self.capable_limits is None or payload is None:
            return {}
        return self.capable_limits(payload)

    def contract_schema(self, contract: str, payload: dict[str, Any] | None = None) -> dict:
        """The output schema with the contract's limits as ``maxItems``: what the output of a
        job under ``contract`` must match (spelt out to models that get no grammar)."""
        limits = self.limits(contract, payload)
        if not limits:
            return self.output_schema
        properties = self.output_schema["properties"]
        return {
            **self.output_schema,
            "properties": {
                **properties,
                **{name: {**properties[name], "maxItems": most} for name, most in limits.items()},
            },
        }

    def schema_for_decoding(self, payload: dict[str, Any], contract: str = TINY) -> dict[str, Any]:
        """The schema to constrain decoding with: under the tiny contract the kind's narrower
        one if it has one, else the contract's output schema for ``payload``."""
        if contract == TINY and self.decoding_schema is not None:
            narrowed = self.decoding_schema(payload)
            if narrowed is not None:
                return narrowed
        return self.contract_schema(contract, payload)

    def output_errors(self, output: Any) -> list[str]:
        """Every way ``output`` breaks the output schema (empty when it is valid)."""
        return _errors(*self._output_validators, output)

    def contract_errors(
        self, output: Any, contract: str, payload: dict[str, Any] | None = None
    ) -> list[str]:
        """``output_errors``, then every array longer than the contract allows."""
        errors = self.output_errors(output)
        limits = self.limits(contract, payload)
        if errors or not limits:  # most kinds have none: the exchange's path stays as short
            return errors
        return [
            f"$.{name}: {len(output[name])} items, at most {most} under the {contract} contract"
            for name, most in limits.items()
            if len(output.get(name, ())) > most
        ]


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
