import pytest
from jsonschema import Draft202012Validator, SchemaError

from jobkinds import JobKind, UnknownKindError, all_kinds, get_kind, register
from jobkinds.clip_score import KIND as CLIP_SCORE
from tests.worker.echo_kind import ECHO_SUMMARY

OBJECT = {"type": "object"}


def test_registry_finds_registered_kinds_by_name():
    assert get_kind("clip_score") is CLIP_SCORE
    assert get_kind("echo_summary") is ECHO_SUMMARY
    names = [kind.name for kind in all_kinds()]
    assert names == sorted(names)
    assert {"clip_score", "echo_summary"} <= set(names)


def test_unknown_kind_raises():
    with pytest.raises(UnknownKindError):
        get_kind("no_such_kind")


def test_registering_a_different_kind_under_a_taken_name_is_refused():
    register(ECHO_SUMMARY)  # the same object again is harmless
    clash = JobKind("echo_summary", "2", OBJECT, OBJECT, system_prompt="x")
    with pytest.raises(ValueError, match="already registered"):
        register(clash)
    assert get_kind("echo_summary") is ECHO_SUMMARY


def test_schemas_are_checked_when_the_kind_is_defined():
    with pytest.raises(SchemaError):
        JobKind("broken", "1", {"type": "no-such-type"}, OBJECT, system_prompt="x")


def test_llm_kind_needs_a_prompt_and_clip_kind_does_not():
    with pytest.raises(ValueError, match="system_prompt"):
        JobKind("mute", "1", OBJECT, OBJECT)
    assert JobKind("pixels", "1", OBJECT, OBJECT, runner="clip").build_messages is None
    with pytest.raises(ValueError, match="runner"):
        JobKind("odd", "1", OBJECT, OBJECT, runner="gpu", system_prompt="x")


def test_default_messages_are_system_prompt_then_payload_json():
    messages = ECHO_SUMMARY.build_messages({"text": "héllo world"})
    assert messages == [
        {"role": "system", "content": ECHO_SUMMARY.system_prompt},
        {"role": "user", "content": '{"text": "héllo world"}'},
    ]


def test_custom_message_builder_is_kept():
    def builder(payload):
        return [{"role": "user", "content": payload["q"]}]

    kind = JobKind("ask", "1", OBJECT, OBJECT, build_messages=builder)
    assert kind.build_messages({"q": "why?"}) == [{"role": "user", "content": "why?"}]


def test_clip_score_schemas_are_plain_json_schema():
    Draft202012Validator.check_schema(CLIP_SCORE.input_schema)
    Draft202012Validator.check_schema(CLIP_SCORE.output_schema)
    pair = {"id": "a", "text": "a cat", "image_b64": "iVBORw0KGgo="}
    assert CLIP_SCORE.input_errors({"pairs": [pair]}) == []
    assert CLIP_SCORE.input_errors({"pairs": [pair], "threshold": 2}) == [
        "$.threshold: 2 is greater than the maximum of 1"
    ]
    assert CLIP_SCORE.output_errors({"model": "m", "scores": [{"id": "a"}]}) == [
        "$.scores[0]: 'similarity' is a required property",
        "$.scores[0]: 'keep' is a required property",
    ]


def test_jsonschema_rules_on_what_the_compiled_validator_refuses_or_cannot_read():
    kind = JobKind(
        name="scored",
        version="1",
        input_schema=OBJECT,
        output_schema={
            "type": "object",
            "properties": {"score": {"type": "number"}},
            "additionalProperties": False,
        },
        runner="clip",
    )
    assert kind.output_errors({"score": 0.5}) == []
    # The compiled validator calls NaN no number; jsonschema (the judge) does.
    assert kind.output_errors({"score": float("nan")}) == []
    # A dict with an int key is not JSON: the compiled validator raises on it.
    assert kind.output_errors({1: 2}) == [
        "$: Additional properties are not allowed (1 was unexpected)"
    ]
    assert kind.output_errors({"score": "x"}) == ["$.score: 'x' is not of type 'number'"]
