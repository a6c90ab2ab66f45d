"""derive results: hypotheses and instructions resting on anchors of the source.

The node sees the document's facts with their anchor ids and fragments, not the full text.
An item whose cited evidence contains no anchor of this source is rejected; items that repeat
``RETENTION_MAX_RUN_WORDS`` consecutive words of the source are rejected by the copyright gate
(``sources.fingerprints``).
"""

from dataclasses import dataclass, field
from typing import Any

from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.payloads import span
from alexandria.knowledge.models import Anchor, Fact, KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.sources.fingerprints import copied_runs, copy_reason
from alexandria.sources.models import Source
from jobkinds import derive, reconstruct

MAX_REJECTED_SHARE = 0.5


@dataclass(frozen=True)
class DerivedItem:
    index: int
    kind: str
    text: str
    details: dict[str, Any]
    confidence: float | None
    anchor_ids: list[int]


@dataclass(frozen=True)
class RejectedDerivation:
    index: int
    kind: str
    reason: str
    message: str

    def describe(self) -> str:
        return f"{self.kind} {self.index}: {self.reason}: {self.message}"


@dataclass
class DerivationCheck:
    kept: list[DerivedItem] = field(default_factory=list)
    rejected: list[RejectedDerivation] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        total = len(self.kept) + len(self.rejected)
        if not self.rejected:
            return []
        if not self.kept or len(self.rejected) / total > MAX_REJECTED_SHARE:
            return [
                f"{len(self.rejected)} of {total} items rejected",
                *(r.describe() for r in self.rejected[:20]),
            ]
        return []


def fact_rows(source: Source) -> list[Fact]:
    """The source's facts in document order, with what the payloads name."""
    return list(
        Fact.objects.filter(source=source)
        .select_related("subject__canonical", "object_entity__canonical", "anchor")
        .order_by("temporal_id", "pk")
    )


def _canonical_name(entity) -> str:
    return (entity.canonical or entity).name


def _object_text(fact: Fact) -> str:
    return _canonical_name(fact.object_entity) if fact.object_entity else fact.value


def plan_derivation(source: Source, *, priority: int = 0) -> list[Job]:
    """One derive job per batch of facts, and a reconstruct job over the first facts."""
    facts = fact_rows(source)
    if not facts:
        return []
    jobs = []
    for offset in range(0, len(facts), derive.MAX_FACTS):
        batch = facts[offset : offset + derive.MAX_FACTS]
        payload = {
            "source_title": source.title,
            "prompt_version": derive.PROMPT_VERSION,
            "facts": [
                {
                    "anchor_id": fact.anchor_id,
                    # The anchor whole for the node; only its offsets in the stored payload.
                    "fragment": span(fact.anchor.start, fact.anchor.end),
                    "subject": _canonical_name(fact.subject),
                    "predicate": fact.predicate,
                    "object": _object_text(fact),
                }
                for fact in batch
            ],
        }
        jobs.append(create_job(derive.KIND.name, payload, source=source, priority=priority))
    graph = {
        "source_title": source.title,
        "prompt_version": reconstruct.PROMPT_VERSION,
        "facts": [
            {
                "subject": _canonical_name(fact.subject),
                "predicate": fact.predicate,
                "object": _object_text(fact),
            }
            for fact in facts[: reconstruct.MAX_FACTS]
        ],
    }
    jobs.append(create_job(reconstruct.KIND.name, graph, source=source, priority=priority))
    return jobs


def _texts(kind: str, item: dict[str, Any]) -> list[str]:
    if kind == KnowledgeItem.Kind.HYPOTHESIS:
        return [item["claim"], item.get("supports", ""), item.get("contradicts", "")]
    return [item["goal"], *item.get("prerequisites", []), *item["steps"]]


def _derived(kind: str, index: int, item: dict[str, Any], anchor_ids: list[int]) -> DerivedItem:
    if kind == KnowledgeItem.Kind.HYPOTHESIS:
        return DerivedItem(
            index=index,
            kind=kind,
            text=item["claim"].strip(),
            details={
                "stance": item["stance"],
                "supports": item.get("supports", ""),
                "contradicts": item.get("contradicts", ""),
            },
            confidence=item["confidence"],
            anchor_ids=anchor_ids,
        )
    return DerivedItem(
        index=index,
        kind=kind,
        text=item["goal"].strip(),
        details={
            "goal": item["goal"],
            "prerequisites": item.get("prerequisites", []),
            "steps": item["steps"],
        },
        confidence=None,
        anchor_ids=anchor_ids,
    )


def check_derivation(job: Job, output: dict[str, Any]) -> DerivationCheck:
    """Keep items citing at least one anchor of the source and copying nothing long."""
    source = job.source
    known = set(Anchor.objects.filter(source=source).values_list("pk", flat=True))
    check = DerivationCheck()
    entries = [(KnowledgeItem.Kind.HYPOTHESIS, item) for item in output["hypotheses"]] + [
        (KnowledgeItem.Kind.INSTRUCTION, item) for item in output["instructions"]
    ]
    counters = {KnowledgeItem.Kind.HYPOTHESIS: 0, KnowledgeItem.Kind.INSTRUCTION: 0}
    for kind, item in entries:
        index = counters[kind]
        counters[kind] += 1
        valid_ids = list(dict.fromkeys(i for i in item["evidence"] if i in known))
        if not valid_ids:
            check.rejected.append(
                RejectedDerivation(
                    index,
                    kind,
                    "no_valid_evidence",
                    f"evidence {item['evidence'][:10]} names no anchor of this source",
                )
            )
            continue
        runs = copied_runs(_texts(kind, item), [source.pk])
        if runs:
            check.rejected.append(
                RejectedDerivation(index, kind, "verbatim_copy", copy_reason(runs))
            )
            continue
        check.kept.append(_derived(kind, index, item, valid_ids))
    return check


def store_items(job: Job, check: DerivationCheck, *, prompt_version: str) -> list[KnowledgeItem]:
    """Store the kept items as layer-1 knowledge, authored by the source's submitter."""
    source = job.source
    stored = []
    for derived in check.kept:
        item = KnowledgeItem.objects.create(
            kind=derived.kind,
            layer=1,
            text=derived.text,
            details=derived.details,
            confidence=derived.confidence,
            author=source.submitted_by,
            job=job,
            prompt_version=prompt_version,
        )
        item.anchors.set(derived.anchor_ids)
        stored.append(item)
    reindex_items_after_commit(item.pk for item in stored)
    return stored
