"""derive results: hypotheses and instructions resting on anchors of the source.

The node sees the document's facts with their anchor ids and fragments, not the full text.
An item whose cited evidence contains no anchor of this source is rejected; items that repeat
``RETENTION_MAX_RUN_WORDS`` consecutive words of the source are rejected by the copyright gate
(``sources.fingerprints``); items the quality gate refuses (``textproc.item_quality``: markup,
headings, questions, truncated text, restated titles, instructions without a goal or steps) are
rejected with the problem's code; anchors whose span shares nothing with the item are dropped
and an item left with none is rejected (``services.support``), and each stored item waits,
unverified, for its verify_support job.
"""

from dataclasses import dataclass, field
from typing import Any

from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.payloads import span
from alexandria.knowledge.models import Anchor, Fact, KnowledgeItem
from alexandria.knowledge.services import reindex_items_after_commit
from alexandria.pipeline.services import support
from alexandria.pipeline.services.source_texts import retained_text, screening_reference
from alexandria.sources.fingerprints import copied_runs, copy_reason
from alexandria.sources.models import Source
from alexandria.textproc.item_quality import Problem, item_problems
from alexandria.textproc.screening import planted_fields
from jobkinds import derive, reconstruct

MAX_REJECTED_SHARE = 0.5
# An item with URLs, markup or instructions its source doesn't contain (textproc.screening).
PLANTED = "planted_text"


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
        planted = [r.describe() for r in self.rejected if r.reason == PLANTED]
        if planted:  # no model's slip: the whole result is refused
            return [f"{len(planted)} of {total} items carry planted text", *planted[:20]]
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
    """Keep items citing at least one anchor of the source, copying nothing long, passing the
    quality gate (``textproc.item_quality``: the problem's code is the reason) and citing at
    least one anchor whose span shares content with them (``support.supporting_anchors``)."""
    source = job.source
    known = {anchor.pk: anchor for anchor in Anchor.objects.filter(source=source)}
    text = retained_text(source)
    reference = screening_reference(source)
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
        planted = planted_fields(
            {f"{kind}.{n}": part for n, part in enumerate(_texts(kind, item)) if part},
            reference,
            commands_in=(KnowledgeItem.Kind.INSTRUCTION,),
        )
        if planted:
            check.rejected.append(RejectedDerivation(index, kind, PLANTED, "; ".join(planted)))
            continue
        runs = copied_runs(_texts(kind, item), [source.pk])
        if runs:
            check.rejected.append(
                RejectedDerivation(index, kind, "verbatim_copy", copy_reason(runs))
            )
            continue
        problems = _quality_problems(kind, item, source)
        if problems:
            check.rejected.append(
                RejectedDerivation(index, kind, problems[0].code, problems[0].message)
            )
            continue
        supported = support.supporting_anchors(
            support.claim_text(kind, _main_text(kind, item), item.get("steps", ())),
            [known[i] for i in valid_ids],
            text,
        )
        if not supported:
            check.rejected.append(
                RejectedDerivation(
                    index,
                    kind,
                    support.UNSUPPORTED,
                    f"no cited anchor ({len(valid_ids)}) shares content with the item or is "
                    "similar enough to it",
                )
            )
            continue
        check.kept.append(_derived(kind, index, item, [a.pk for a in supported]))
    return check


def _main_text(kind: str, item: dict[str, Any]) -> str:
    return item["claim"] if kind == KnowledgeItem.Kind.HYPOTHESIS else item["goal"]


def _quality_problems(kind: str, item: dict[str, Any], source: Source) -> list[Problem]:
    return item_problems(
        kind,
        _main_text(kind, item),
        steps=item.get("steps", ()),
        source_title=source.title,
        language=source.language or None,
    )


def store_items(job: Job, check: DerivationCheck, *, prompt_version: str) -> list[KnowledgeItem]:
    """Store the kept items as layer-1 knowledge, authored by the source's submitter, each
    unverified until its verify_support job is decided (``support.plan_support``)."""
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
        support.plan_support(item, source, priority=job.priority)
        stored.append(item)
    reindex_items_after_commit(item.pk for item in stored)
    return stored
