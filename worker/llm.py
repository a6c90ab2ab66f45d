"""LLM runner: any OpenAI-compatible server, JSON-schema constrained, validated and repaired."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import openai

from jobkinds import TINY, JobKind
from worker.results import JobFailedError, RunnerUnavailableError, RunResult

log = logging.getLogger(__name__)

# Ways of asking for JSON, strongest first; servers that reject one (HTTP 400) get the next.
# "json_object_schema" is llama-cpp-python's spelling of schema-constrained output.
FORMAT_MODES = ("json_schema", "json_object_schema", "json_object", "plain")
# 400 from vLLM/OpenAI, 422 from FastAPI-based servers.
REJECTED_REQUEST_STATUSES = (400, 422)

# The repair request quotes the invalid reply back, cut to this many characters so that a
# rambling reply cannot push the repair past a small model's context.
REPAIR_ECHO_MAX_CHARS = 4000

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class InvalidOutputError(ValueError):
    """The model's reply is not a JSON object that matches the kind's output schema."""


def parse_output(
    content: str, kind: JobKind, contract: str = TINY, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON object in ``content`` (bare, fenced or amid prose), checked against the schema
    and the limits of the job's ``contract`` (``payload`` sizes the capable limits)."""
    candidates = [match.group(1) for match in _FENCE.finditer(content)] + [content]
    decoder = json.JSONDecoder(strict=False)  # models put raw newlines in strings
    data: Any = None
    for candidate in candidates:
        start = candidate.find("{")
        if start < 0:
            continue
        try:
            data, _ = decoder.raw_decode(candidate, start)
            break
        except json.JSONDecodeError:
            continue
    if not isinstance(data, dict):
        raise InvalidOutputError("the reply contains no JSON object")
    errors = kind.contract_errors(data, contract, payload)
    if errors:
        raise InvalidOutputError("; ".join(errors[:10]))
    return data


def rejects_request(exc: openai.APIStatusError) -> bool:
    """Whether the server refused the request itself rather than failed to serve it.

    llama-cpp-python's server answers an unsupported ``response_format`` with a 500 whose
    message names the field, so that counts as a refusal too.
    """
    if exc.status_code in REJECTED_REQUEST_STATUSES:
        return True
    return exc.status_code == 500 and "response_format" in str(exc)


# Large size bounds become huge grammars in constrained decoding (llama.cpp spells out every
# repetition and crashes on maxLength 2000); the full schema still checks the output. Small
# bounds (a decoding schema's "at most 6 facts", "a label of at most 60 characters") stay:
# they keep a small model from rambling until its context is full.
_BOUNDS_LEFT_TO_VALIDATION = frozenset({"maxLength", "maxItems", "maxProperties"})
SMALL_BOUND = 80
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "contains")


def decoding_schema(schema: Any) -> Any:
    """``schema`` without large upper size bounds, for the server to constrain decoding with."""
    if not isinstance(schema, dict):
        return schema
    relaxed = {
        k: v
        for k, v in schema.items()
        if k not in _BOUNDS_LEFT_TO_VALIDATION or (isinstance(v, int) and v <= SMALL_BOUND)
    }
    for key in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            relaxed[key] = {name: decoding_schema(sub) for name, sub in schema[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            relaxed[key] = [decoding_schema(sub) for sub in schema[key]]
    for key in _SUBSCHEMAS:
        if key in schema:
            relaxed[key] = decoding_schema(schema[key])
    return relaxed


def response_format(
    mode: str, kind: JobKind, payload: dict[str, Any] | None = None, contract: str = TINY
) -> dict[str, Any] | None:
    """The ``response_format`` of a request in ``mode``, constrained by the schema the job's
    ``contract`` decodes ``payload`` with (the kind's output schema without a payload): tiny,
    the kind's narrow decoding schema; capable, the output schema with bounds sized to it."""
    if mode in ("json_schema", "json_object_schema"):
        full = (
            kind.output_schema if payload is None else kind.schema_for_decoding(payload, contract)
        )
        schema = decoding_schema(full)
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": kind.name, "schema": schema, "strict": False},
            }
        return {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def with_schema_instruction(
    messages: list[dict[str, Any]], schema: dict[str, Any]
) -> list[dict[str, Any]]:
    """Spell ``schema`` out in the system message for servers that can't enforce it."""
    instruction = (
        "Reply with a single JSON object and nothing else. It must match this JSON Schema:\n"
        + json.dumps(schema, separators=(",", ":"))
    )
    messages = [dict(message) for message in messages]
    if messages and messages[0].get("role") == "system":
        messages[0]["content"] = f"{messages[0]['content']}\n\n{instruction}"
    else:
        messages.insert(0, {"role": "system", "content": instruction})
    return messages


class LLMRunner:
    """Runs ``llm`` kinds against one OpenAI-compatible server, remembering what it accepts."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "none",
        model: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
    ) -> None:
        self.base_url = base_url
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self._model = model
        self.format_mode = FORMAT_MODES[0]

    async def aclose(self) -> None:
        await self._client.close()

    async def check_server(self) -> str:
        """List the server's models (proving it answers) and return the model jobs will use.

        Without a configured model, the first one listed is used.
        """
        try:
            served = [model.id for model in (await self._client.models.list()).data]
        except openai.APIError as exc:
            raise RunnerUnavailableError(f"cannot list models: {exc}") from exc
        if self._model is None:
            if not served:
                raise RunnerUnavailableError("the server lists no models")
            self._model = served[0]
        elif served and self._model not in served:
            log.warning("%s does not list %s (it serves %s)", self.base_url, self._model, served)
        return self._model

    async def probe(self) -> None:
        """Raise RunnerUnavailableError unless the server answers (the circuit breaker's probe)."""
        await self.check_server()

    async def model(self) -> str:
        return self._model if self._model is not None else await self.check_server()

    async def run(self, kind: JobKind, payload: dict[str, Any], contract: str = TINY) -> RunResult:
        """Run one job under its output ``contract`` (``jobkinds.CONTRACTS``)."""
        assert kind.build_messages is not None
        model = await self.model()
        messages = kind.build_messages(payload)
        usage = [0, 0]
        job = (kind, payload, contract)
        content = await self._complete(job, model, messages, usage)
        try:
            output = parse_output(content, kind, contract, payload)
        except InvalidOutputError as first_error:
            log.info("%s: invalid output (%s), asking for a repair", kind.name, first_error)
            repair = [
                *messages,
                {"role": "assistant", "content": content[:REPAIR_ECHO_MAX_CHARS]},
                {
                    "role": "user",
                    "content": (
                        f"That reply is not valid: {first_error}. Reply again with only the "
                        "corrected JSON object, matching the required schema exactly."
                    ),
                },
            ]
            content = await self._complete(job, model, repair, usage)
            try:
                output = parse_output(content, kind, contract, payload)
            except InvalidOutputError as second_error:
                raise JobFailedError(
                    f"model output invalid after one repair: {second_error}"
                ) from second_error
        return RunResult(
            output=output, model=model, prompt_tokens=usage[0], completion_tokens=usage[1]
        )

    async def _complete(
        self,
        job: tuple[JobKind, dict[str, Any], str],
        model: str,
        messages: list[dict[str, Any]],
        usage: list[int],
    ) -> str:
        """One chat completion for ``job`` (kind, payload, contract), stepping down
        FORMAT_MODES while the server answers 400."""
        kind, payload, contract = job
        mode_index = FORMAT_MODES.index(self.format_mode)
        while True:
            mode = FORMAT_MODES[mode_index]
            request: dict[str, Any] = {"model": model, "messages": messages}
            if mode != "json_schema":
                schema = kind.contract_schema(contract, payload)
                request["messages"] = with_schema_instruction(messages, schema)
            fmt = response_format(mode, kind, payload, contract)
            if fmt is not None:
                request["response_format"] = fmt
            try:
                completion = await self._client.chat.completions.create(**request)
            except openai.APIStatusError as exc:
                if not rejects_request(exc):
                    raise RunnerUnavailableError(f"LLM server failed: {exc}") from exc
                if mode_index + 1 == len(FORMAT_MODES):
                    raise JobFailedError(f"LLM server rejected the request: {exc}") from exc
                mode_index += 1
                log.info(
                    "%s rejected %s output (%s); trying %s",
                    self.base_url,
                    mode,
                    exc,
                    FORMAT_MODES[mode_index],
                )
                continue
            except openai.APIConnectionError as exc:
                raise RunnerUnavailableError(f"LLM server unreachable: {exc}") from exc
            if FORMAT_MODES.index(self.format_mode) < mode_index:
                self.format_mode = mode
            if completion.usage is not None:
                usage[0] += completion.usage.prompt_tokens or 0
                usage[1] += completion.usage.completion_tokens or 0
            if not completion.choices:
                raise JobFailedError("LLM server returned no choices")
            return completion.choices[0].message.content or ""
