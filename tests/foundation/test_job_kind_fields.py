"""docs/job-kinds.md says, for every output field of every job kind, whether replicas must
agree on it or the server checks it (issue 21): a kind or field without its row fails here."""

import importlib
import importlib.util
import re
from pathlib import Path

from jobkinds import JobKind
from jobkinds import all_kinds as registered_kinds

TABLE = Path(__file__).resolve().parents[2] / "docs" / "job-kinds.md"


def all_kinds() -> list[JobKind]:
    """The kinds this package defines (tests register throwaway kinds of their own)."""
    return [
        kind
        for kind in registered_kinds()
        if importlib.util.find_spec(f"jobkinds.{kind.name}") is not None
        and importlib.import_module(f"jobkinds.{kind.name}").KIND is kind
    ]


def schema_fields(schema: dict, prefix: str = "") -> set[str]:
    """Every leaf field of an output schema, as "facts[].anchor" or "keywords[]"."""
    fields = set()
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        fields |= schema_fields(branch, prefix)
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if sub.get("type") == "array":
            items = sub.get("items", {})
            if "properties" in items or "anyOf" in items or "oneOf" in items:
                fields |= schema_fields(items, f"{path}[].")
            else:
                fields.add(f"{path}[]")
        elif "properties" in sub:
            fields |= schema_fields(sub, f"{path}.")
        else:
            fields.add(path)
    return fields


def documented() -> dict[str, set[str]]:
    """{kind: fields} from the table; ".x" continues the previous name's prefix."""
    table: dict[str, set[str]] = {}
    for line in TABLE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        kind, prefix = cells[0], ""
        for name in re.findall(r"`([^`]+)`", cells[1]):
            if name.startswith("."):
                name = prefix + name[1:]
            prefix = name[: name.rfind(".") + 1]
            table.setdefault(kind, set()).add(name)
    return table


def test_every_output_field_of_every_kind_has_a_row():
    table = documented()
    missing = {
        kind.name: sorted(schema_fields(kind.output_schema) - table.get(kind.name, set()))
        for kind in all_kinds()
    }
    assert not {kind: fields for kind, fields in missing.items() if fields}


def test_the_table_names_no_field_that_does_not_exist():
    fields = {kind.name: schema_fields(kind.output_schema) for kind in all_kinds()}
    unknown = {
        kind: sorted(names - fields.get(kind, set()))
        for kind, names in documented().items()
        if names - fields.get(kind, set())
    }
    assert not unknown


def test_every_llm_kind_tells_its_model_the_data_are_not_instructions():
    """Stored text (documents, facts, items, reasons) reaches a model only as data."""
    llm_kinds = [kind for kind in all_kinds() if kind.runner == "llm"]
    assert llm_kinds
    for kind in llm_kinds:
        assert re.search(r"\bDATA\b.*\bnot instructions\b", kind.system_prompt, re.S), kind.name
