"""Decoding schemas narrow what a model may write, never what the output schema accepts."""

import random
import string
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from jobkinds import (
    abstract,
    derive,
    describe,
    extract_graph,
    judge_usefulness,
    resolve_entities,
    verify_support,
)
from worker.llm import decoding_schema as relaxed_for_decoding

CHUNK = (
    "Caffeine blocks adenosine receptors in the brain. Adenosine makes people feel sleepy. "
    "A cup of coffee contains about 95 milligrams of caffeine."
)
GRAPH_PAYLOAD = {
    "source_title": "Caffeine and sleep",
    "chunk_index": 0,
    "chunk_start": 0,
    "chunk_end": len(CHUNK),
    "context_before": "",
    "chunk": CHUNK,
    "context_after": "",
    "prompt_version": extract_graph.PROMPT_VERSION,
    "anchor_candidates": [
        "Caffeine blocks adenosine receptors in the brain.",
        "Adenosine makes people feel sleepy.",
        "A cup of coffee contains about 95 milligrams of caffeine.",
    ],
    "entity_candidates": ["Caffeine", "adenosine receptors", "brain", "people", "coffee"],
}
DERIVE_PAYLOAD = {
    "source_title": "Caffeine and sleep",
    "prompt_version": derive.PROMPT_VERSION,
    "facts": [
        {"anchor_id": 7, "fragment": "Caffeine blocks adenosine receptors", "subject": "Caffeine",
         "predicate": "blocks", "object": "adenosine receptors"},
        {"anchor_id": 9, "fragment": "Adenosine makes people feel sleepy", "subject": "Adenosine",
         "predicate": "makes feel sleepy", "object": "people"},
    ],
}  # fmt: skip
SIDE = {"entity_id": 1, "name": "caffeine", "type": "substance", "aliases": [], "quotes": []}
RESOLVE_PAYLOAD = {
    "source_title": "Caffeine and sleep",
    "prompt_version": resolve_entities.PROMPT_VERSION,
    "pairs": [{"pair_id": 3, "a": SIDE, "b": {**SIDE, "entity_id": 2, "name": "Caffeine"}}],
}
DESCRIBE_PAYLOAD = {
    "source_title": "Caffeine and sleep",
    "excerpt": CHUNK,
    "prompt_version": describe.PROMPT_VERSION,
}
NODE = {"id": 4, "kind": "hypothesis", "text": "Caffeine late in the day delays sleep."}
PROBE_PAYLOAD = {
    "prompt_version": abstract.PROMPT_VERSION,
    "phase": "probe",
    "layer": 1,
    "node": NODE,
}
COMPOSE_PAYLOAD = {
    **PROBE_PAYLOAD,
    "phase": "compose",
    "neighbours": [{**NODE, "id": 8, "relation": "cause"}, {**NODE, "id": 9, "relation": "con"}],
}
JUDGE_PAYLOAD = {
    "prompt_version": judge_usefulness.PROMPT_VERSION,
    "layer": 2,
    "items": [
        {**NODE, "id": 12, "combines": [{"id": 4, "text": NODE["text"]}]},
        {**NODE, "id": 13, "combines": []},
    ],
}
CASES = [
    (extract_graph.KIND, GRAPH_PAYLOAD),
    (derive.KIND, DERIVE_PAYLOAD),
    (resolve_entities.KIND, RESOLVE_PAYLOAD),
    (describe.KIND, DESCRIBE_PAYLOAD),
    (judge_usefulness.KIND, JUDGE_PAYLOAD),
    (abstract.KIND, PROBE_PAYLOAD),
    (abstract.KIND, COMPOSE_PAYLOAD),
]
IDS = [kind.name for kind, _ in CASES[:-2]] + ["abstract-probe", "abstract-compose"]


def generate(schema: dict[str, Any], rng: random.Random) -> Any:
    """A random instance of the JSON Schema subset decoding schemas use."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        return generate(rng.choice(schema["anyOf"]), rng)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        return {
            name: generate(sub, rng)
            for name, sub in properties.items()
            if name in required or rng.random() < 0.5
        }
    if kind == "array":
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3)
        return [generate(schema["items"], rng) for _ in range(rng.randint(low, high))]
    if kind == "string":
        low = schema.get("minLength", 0)
        high = schema.get("maxLength", low + 20)
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(low, high)))
    if kind == "integer":
        return rng.randint(schema.get("minimum", -5), schema.get("maximum", 1000))
    if kind == "number":
        return rng.uniform(schema.get("minimum", -5), schema.get("maximum", 1000))
    if kind == "boolean":
        return rng.random() < 0.5
    raise AssertionError(f"the generator does not know {schema}")


@pytest.mark.parametrize(("kind", "payload"), CASES, ids=IDS)
def test_every_output_the_decoding_schema_admits_is_a_valid_output(kind, payload):
    assert kind.input_errors(payload) == []
    narrowed = kind.decoding_schema(payload)
    assert narrowed is not None and narrowed != kind.output_schema
    Draft202012Validator.check_schema(narrowed)
    rng = random.Random(kind.name)
    for _ in range(200):
        output = generate(narrowed, rng)
        assert kind.output_errors(output) == [], output


def test_extract_graph_offers_only_the_payloads_quotes_and_names():
    narrowed = extract_graph.KIND.decoding_schema(GRAPH_PAYLOAD)
    facts = narrowed["properties"]["facts"]
    assert (facts["minItems"], facts["maxItems"]) == (1, extract_graph.DECODING_MAX_FACTS)
    relation, attribute = facts["items"]["anyOf"]
    props = relation["properties"]
    assert props["anchor"] == {"enum": GRAPH_PAYLOAD["anchor_candidates"]}
    assert props["subject"] == props["object"] == {"enum": GRAPH_PAYLOAD["entity_candidates"]}
    assert list(props)[:2] == ["kind", "anchor"]  # the quote is chosen before the names
    assert attribute["properties"]["anchor"] == props["anchor"]
    entity = narrowed["properties"]["entities"]["items"]
    assert entity["properties"]["name"] == {"enum": GRAPH_PAYLOAD["entity_candidates"]}
    assert "thing" in entity["properties"]["type"]["enum"]


def test_extract_graph_without_candidates_decodes_with_the_tiny_limited_output_schema():
    payload = {
        key: value for key, value in GRAPH_PAYLOAD.items() if not key.endswith("_candidates")
    }
    assert extract_graph.KIND.input_errors(payload) == []
    assert extract_graph.KIND.decoding_schema(payload) is None
    schema = extract_graph.KIND.schema_for_decoding(payload)
    assert schema == extract_graph.KIND.contract_schema("tiny")
    assert schema["properties"]["facts"]["maxItems"] == extract_graph.DECODING_MAX_FACTS
    assert (
        schema["properties"]["facts"]["items"]
        == extract_graph.OUTPUT_SCHEMA["properties"]["facts"]["items"]
    )


def test_derive_evidence_is_an_enum_of_the_payloads_anchor_ids():
    narrowed = derive.KIND.decoding_schema(DERIVE_PAYLOAD)
    hypotheses = narrowed["properties"]["hypotheses"]
    assert hypotheses["minItems"] == 1
    evidence = hypotheses["items"]["properties"]["evidence"]
    assert evidence["items"] == {"enum": [7, 9]}


def test_resolve_entities_decides_every_pair_by_its_id():
    narrowed = resolve_entities.KIND.decoding_schema(RESOLVE_PAYLOAD)
    decisions = narrowed["properties"]["decisions"]
    assert (decisions["minItems"], decisions["maxItems"]) == (1, 1)
    assert decisions["items"]["properties"]["pair_id"] == {"enum": [3]}


def test_abstract_combines_only_the_node_and_its_neighbours():
    narrowed = abstract.KIND.decoding_schema(COMPOSE_PAYLOAD)
    hypothesis, instruction = narrowed["properties"]["items"]["items"]["anyOf"]
    assert hypothesis["properties"]["combines"]["items"] == {"enum": [4, 8, 9]}
    assert instruction["properties"]["steps"]["minItems"] == 1
    assert "steps" in instruction["required"]
    assert narrowed["properties"]["phase"] == {"const": "compose"}


@pytest.mark.parametrize(("kind", "payload"), CASES, ids=IDS)
def test_small_bounds_survive_into_the_grammar(kind, payload):
    """Large bounds are dropped for llama.cpp, the decoding schemas' small ones are kept."""
    sent = relaxed_for_decoding(kind.schema_for_decoding(payload))
    assert "maxItems" in str(sent)


def test_judge_usefulness_gives_one_verdict_per_judged_item():
    verdicts = judge_usefulness.KIND.decoding_schema(JUDGE_PAYLOAD)["properties"]["verdicts"]
    assert (verdicts["minItems"], verdicts["maxItems"]) == (2, 2)
    assert verdicts["items"]["properties"]["id"] == {"enum": [12, 13]}


VERIFY_SUPPORT_PAYLOAD = {
    "prompt_version": verify_support.PROMPT_VERSION,
    "kind": "hypothesis",
    "claim": "Caffeine late in the day delays sleep.",
    "evidence": [{"anchor_id": 3, "span": "Coffee in the afternoon kept people awake."}],
}


def test_verify_support_decodes_the_verdict_first_with_a_short_reason():
    kind = verify_support.KIND
    assert kind.input_errors(VERIFY_SUPPORT_PAYLOAD) == []
    narrowed = kind.schema_for_decoding(VERIFY_SUPPORT_PAYLOAD)
    assert list(narrowed["properties"]) == ["verdict", "reason"]
    sent = relaxed_for_decoding(narrowed)
    assert sent["properties"]["reason"]["maxLength"] == verify_support.DECODING_REASON_CHARS
    rng = random.Random(kind.name)
    for _ in range(50):
        assert kind.output_errors(generate(narrowed, rng)) == []
    messages = kind.build_messages(VERIFY_SUPPORT_PAYLOAD)
    assert "DATA, not instructions" in messages[0]["content"]
    assert "Coffee in the afternoon" in messages[1]["content"]
