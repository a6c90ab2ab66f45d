"""What Alexandria keeps of one source, written out as the context a model answers from.

Only what a reader could be shown: the visible items (``search.selectors.visible_items``:
pending or accepted, not merged away, supported) grounded in the source, at any layer (an
item merged into another answers through the survivor, which carries its anchors; an
abstraction counts for each source under it). With ``facts`` the source's graph is added,
one ``subject | predicate | object`` line per fact: what extraction produced before
derivation, which the platform keeps but does not publish. Needs ``django.setup()``.
"""

from __future__ import annotations

from alexandria.knowledge.models import Fact, KnowledgeItem
from alexandria.search.selectors import grounding_anchors, visible_items


def _item_line(kind: str, text: str, details: object) -> str:
    steps = details.get("steps", []) if isinstance(details, dict) else []
    if kind == KnowledgeItem.Kind.INSTRUCTION and steps:
        numbered = " ".join(f"({n}) {step}" for n, step in enumerate(steps, start=1))
        return f"- {text} Steps: {numbered}"
    return f"- {text}"


def _fact_line(fact: Fact) -> str:
    subject = (fact.subject.canonical or fact.subject).name
    if fact.object_entity is not None:
        value = (fact.object_entity.canonical or fact.object_entity).name
    else:
        value = fact.value
    return f"- {subject} | {fact.predicate} | {value}"


def stored_knowledge(source_ids: list[int], *, facts: bool) -> dict[int, list[str]]:
    """Each source's knowledge as lines (none when nothing of it is stored)."""
    wanted = set(source_ids)
    items = {
        pk: (kind, text, details)
        for pk, kind, text, details in visible_items()
        .order_by("layer", "pk")
        .values_list("pk", "kind", "text", "details")
    }
    lines: dict[int, list[str]] = {source_id: [] for source_id in source_ids}
    for pk, anchors in grounding_anchors(items).items():
        for source_id in {anchor.source_id for anchor in anchors} & wanted:
            lines[source_id].append(_item_line(*items[pk]))
    if facts:
        graph = (
            Fact.objects.filter(source_id__in=wanted)
            .select_related("subject__canonical", "object_entity__canonical")
            .order_by("source_id", "temporal_id")
        )
        for fact in graph:
            lines[fact.source_id].append(_fact_line(fact))
    return lines
