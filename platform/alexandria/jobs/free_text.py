"""Free text in node outputs, checked before it is stored (``textproc.screening``).

Handlers of kinds that store a node's words (reasons, probes, new items) screen them against
what the job gave the node: its payload's strings are the reference, so a reason may repeat a
statement it judges, but a URL, markup or an instruction the payload doesn't hold is planted
and refuses the whole result (one rejected item per field, on the node's rejected counter).
"""

from typing import Any

from alexandria.jobs.handlers import ValidationReport
from alexandria.textproc.screening import Reference, planted_fields


def payload_strings(value: Any) -> list[str]:
    """Every string in a payload, however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in payload_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in payload_strings(item)]
    return []


def planted_report(
    payload: dict[str, Any],
    fields: dict[str, str],
    *,
    extra_reference: tuple[str, ...] = (),
    commands_in: tuple[str, ...] = (),
) -> ValidationReport | None:
    """The refusal of a result whose stored ``fields`` carry planted text, or None."""
    reference = Reference(*payload_strings(payload), *extra_reference)
    reasons = planted_fields(fields, reference, commands_in=commands_in)
    if not reasons:
        return None
    return ValidationReport(reasons=reasons, rejected_items=len(reasons))
