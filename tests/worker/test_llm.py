import asyncio
import dataclasses
import json

import pytest

from tests.support.fake_openai import FakeReply, reject_response_formats
from tests.worker.echo_kind import ECHO_SUMMARY, valid_reply
from worker.llm import (
    REPAIR_ECHO_MAX_CHARS,
    InvalidOutputError,
    LLMRunner,
    decoding_schema,
    parse_output,
)
from worker.results import JobFailedError, RunnerUnavailableError

PAYLOAD = {"text": "the quick brown fox"}


def run(runner: LLMRunner, *payloads, kind=ECHO_SUMMARY):
    async def go():
        try:
            return [await runner.run(kind, payload) for payload in payloads]
        finally:
            await runner.aclose()

    return asyncio.run(go())


def runner_for(server, **kwargs) -> LLMRunner:
    return LLMRunner(server.base_url, max_retries=0, **kwargs)


@pytest.mark.parametrize(
    "content",
    [
        '{"summary": "s", "words": 4}',
        '```json\n{"summary": "s", "words": 4}\n```',
        'Sure! Here it is:\n```\n{"summary": "s", "words": 4}\n```\nAnything else?',
        'The answer is {"summary": "s", "words": 4} as requested.',
        '{"summary": "s", "words": 4}\n\nNote: {not json}',
    ],
)
def test_parse_output_finds_the_object(content):
    assert parse_output(content, ECHO_SUMMARY) == {"summary": "s", "words": 4}


def test_parse_output_accepts_raw_newlines_inside_strings():
    content = '{"summary": "line one\nline two", "words": 4}'
    assert parse_output(content, ECHO_SUMMARY)["summary"] == "line one\nline two"


def test_decoding_schema_drops_large_upper_size_bounds_everywhere_and_keeps_small_ones():
    schema = {
        "type": "object",
        "maxProperties": 300,
        "properties": {
            "maxLength": {"type": "string", "minLength": 1, "maxLength": 2000},
            "facts": {
                "type": "array",
                "maxItems": 200,
                "items": {"anyOf": [{"type": "string", "maxLength": 9}, {"const": "x"}]},
            },
        },
    }
    assert decoding_schema(schema) == {
        "type": "object",
        "properties": {
            "maxLength": {"type": "string", "minLength": 1},
            "facts": {
                "type": "array",
                "items": {"anyOf": [{"type": "string", "maxLength": 9}, {"const": "x"}]},
            },
        },
    }
    assert schema["properties"]["facts"]["maxItems"] == 200  # the kind's schema is untouched


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("no json here", "no JSON object"),
        ("[1, 2]", "no JSON object"),
        ('{"summary": "s"}', "'words' is a required property"),
        ('{"summary": "s", "words": -1, "x": 1}', "Additional properties"),
    ],
)
def test_parse_output_rejects_what_breaks_the_schema(content, error):
    with pytest.raises(InvalidOutputError, match=error):
        parse_output(content, ECHO_SUMMARY)


def test_asks_for_schema_constrained_json_and_records_usage(fake_openai):
    fake_openai.queue(
        FakeReply('{"summary": "s", "words": 4}', prompt_tokens=30, completion_tokens=9)
    )
    (result,) = run(runner_for(fake_openai, model="my-model"), PAYLOAD)
    assert result.output == {"summary": "s", "words": 4}
    assert (result.model, result.prompt_tokens, result.completion_tokens) == ("my-model", 30, 9)
    (request,) = fake_openai.requests
    assert request["model"] == "my-model"
    assert request["messages"] == ECHO_SUMMARY.build_messages(PAYLOAD)
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "echo_summary",
            "schema": ECHO_SUMMARY.output_schema,
            "strict": False,
        },
    }


def test_model_defaults_to_the_first_one_the_server_lists(fake_openai):
    fake_openai.models = ("served-a", "served-b")
    fake_openai.responder = valid_reply
    (result,) = run(runner_for(fake_openai), PAYLOAD)
    assert result.model == "served-a"
    assert fake_openai.requests[0]["model"] == "served-a"


def test_invalid_output_gets_one_repair_call(fake_openai):
    fake_openai.queue(
        FakeReply('{"summary": "s"}', prompt_tokens=10, completion_tokens=3),
        FakeReply(
            '```json\n{"summary": "s", "words": 4}\n```', prompt_tokens=20, completion_tokens=8
        ),
    )
    (result,) = run(runner_for(fake_openai, model="m"), PAYLOAD)
    assert result.output == {"summary": "s", "words": 4}
    assert (result.prompt_tokens, result.completion_tokens) == (30, 11)
    repair = fake_openai.requests[1]["messages"]
    assert repair[:2] == ECHO_SUMMARY.build_messages(PAYLOAD)
    assert repair[2] == {"role": "assistant", "content": '{"summary": "s"}'}
    assert "'words' is a required property" in repair[3]["content"]


def test_output_still_invalid_after_repair_fails_the_job(fake_openai):
    fake_openai.queue("not json", '{"summary": ""}')
    with pytest.raises(JobFailedError, match="invalid after one repair"):
        run(runner_for(fake_openai, model="m"), PAYLOAD)
    assert len(fake_openai.requests) == 2


def test_falls_back_to_schema_in_json_object_and_remembers_it(fake_openai):
    fake_openai.responder = reject_response_formats({"json_schema"}, valid_reply)
    runner = runner_for(fake_openai, model="m")
    results = run(runner, PAYLOAD, PAYLOAD)
    assert [r.output["words"] for r in results] == [len(json.dumps(PAYLOAD).split())] * 2
    formats = [r["response_format"] for r in fake_openai.requests]
    assert [f["type"] for f in formats] == ["json_schema", "json_object", "json_object"]
    assert formats[1] == formats[2] == {"type": "json_object", "schema": ECHO_SUMMARY.output_schema}
    assert runner.format_mode == "json_object_schema"
    # Without json_schema the schema is also spelled out in the system prompt.
    system = fake_openai.requests[1]["messages"][0]["content"]
    assert system.startswith(ECHO_SUMMARY.system_prompt)
    assert json.dumps(ECHO_SUMMARY.output_schema, separators=(",", ":")) in system


def test_falls_back_to_plain_json_object(fake_openai):
    def openai_style_strict(request):
        fmt = request.get("response_format") or {}
        if fmt.get("type") == "json_schema" or "schema" in fmt:
            return FakeReply(status=400, error="unsupported response_format")
        return valid_reply(request)

    fake_openai.responder = openai_style_strict
    runner = runner_for(fake_openai, model="m")
    run(runner, PAYLOAD)
    assert runner.format_mode == "json_object"
    assert fake_openai.requests[-1]["response_format"] == {"type": "json_object"}


def test_falls_back_to_plain_prompting(fake_openai):
    fake_openai.responder = reject_response_formats({"json_schema", "json_object"}, valid_reply)
    runner = runner_for(fake_openai, model="m")
    run(runner, PAYLOAD)
    assert runner.format_mode == "plain"
    assert len(fake_openai.requests) == 4
    assert "response_format" not in fake_openai.requests[-1]


def test_request_rejected_even_without_response_format_fails_the_job(fake_openai):
    fake_openai.responder = lambda request: FakeReply(status=400, error="context too long")
    with pytest.raises(JobFailedError, match="context too long"):
        run(runner_for(fake_openai, model="m"), PAYLOAD)
    assert len(fake_openai.requests) == 4


def test_server_errors_make_the_runner_unavailable(fake_openai):
    fake_openai.queue(FakeReply(status=503, error="overloaded"))
    with pytest.raises(RunnerUnavailableError, match="overloaded"):
        run(runner_for(fake_openai, model="m"), PAYLOAD)


def test_unreachable_server_is_unavailable_not_a_job_failure(fake_openai):
    runner = runner_for(fake_openai)
    fake_openai.stop()

    async def check():
        try:
            await runner.check_server()
        finally:
            await runner.aclose()

    with pytest.raises(RunnerUnavailableError, match="cannot list models"):
        asyncio.run(check())


def test_llama_cpp_style_500_naming_response_format_counts_as_a_rejection(fake_openai):
    """llama-cpp-python's server answers an unknown response_format type with HTTP 500."""

    def llama_cpp_server(request):
        if (request.get("response_format") or {}).get("type") == "json_schema":
            return FakeReply(
                status=500,
                error="1 validation error: ('body', 'response_format', 'type') "
                "Input should be 'text' or 'json_object'",
            )
        return valid_reply(request)

    fake_openai.responder = llama_cpp_server
    runner = runner_for(fake_openai, model="m")
    run(runner, PAYLOAD)
    assert runner.format_mode == "json_object_schema"


def _with_word_choices(payload: dict) -> dict:
    """A narrower schema for decoding: the summary must be one of the payload's words."""
    return {
        "type": "object",
        "required": ["summary", "words"],
        "additionalProperties": False,
        "properties": {
            "summary": {"enum": payload["text"].split()},
            "words": {"enum": [len(payload["text"].split())]},
        },
    }


NARROWED = dataclasses.replace(ECHO_SUMMARY, decoding_schema=_with_word_choices)


def test_the_kinds_decoding_schema_for_the_payload_is_what_gets_sent(fake_openai):
    fake_openai.queue('{"summary": "fox", "words": 4}')
    (result,) = run(runner_for(fake_openai, model="m"), PAYLOAD, kind=NARROWED)
    assert result.output == {"summary": "fox", "words": 4}
    sent = fake_openai.requests[0]["response_format"]["json_schema"]["schema"]
    assert sent == _with_word_choices(PAYLOAD)
    assert sent != NARROWED.output_schema


def test_llama_cpp_style_requests_carry_the_decoding_schema_too(fake_openai):
    fake_openai.responder = reject_response_formats(
        {"json_schema"}, lambda _: '{"summary": "quick", "words": 4}'
    )
    run(runner_for(fake_openai, model="m"), PAYLOAD, kind=NARROWED)
    assert fake_openai.requests[-1]["response_format"] == {
        "type": "json_object",
        "schema": _with_word_choices(PAYLOAD),
    }


def test_output_is_still_validated_against_the_output_schema(fake_openai):
    """The decoding schema narrows what is asked for, never what is accepted."""
    fake_openai.queue('{"summary": "not a word of the text", "words": 4}')
    (result,) = run(runner_for(fake_openai, model="m"), PAYLOAD, kind=NARROWED)
    assert result.output["summary"] == "not a word of the text"


def test_repair_quotes_a_rambling_reply_only_in_part(fake_openai):
    rambling = '{"summary": "' + "very " * 2000
    fake_openai.queue(rambling, '{"summary": "s", "words": 4}')
    run(runner_for(fake_openai, model="m"), PAYLOAD)
    echoed = fake_openai.requests[1]["messages"][2]["content"]
    assert echoed == rambling[:REPAIR_ECHO_MAX_CHARS]
