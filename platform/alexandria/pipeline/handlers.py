"""Result handlers of the pipeline's job kinds (see ``alexandria.jobs.handlers``).

``validate`` grounds a result in the source (anchors, evidence, copyright gate) and says why
it is invalid; ``apply`` stores the canonical result, records the items it dropped against
the node, and advances the source's analysis once the transaction commits.
"""

import re
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz

from alexandria.jobs.free_text import planted_report
from alexandria.jobs.handlers import ValidationReport, register_handler
from alexandria.jobs.models import Job, JobResult
from alexandria.pipeline.models import RejectedItem
from alexandria.pipeline.services import (
    derivation,
    gating,
    graph,
    profile,
    resolution,
    support,
    trimming,
)
from alexandria.pipeline.services.planning import enqueue_advance
from alexandria.pipeline.services.source_texts import SourceTextGone
from alexandria.sources.models import Source
from jobkinds import (
    CAPABLE,
    derive,
    describe,
    extract_graph,
    rate_age,
    reconstruct,
    resolve_entities,
    verify_support,
)
from jobkinds.rate_age import AGE_RATINGS

AGREEMENT = 0.5


def prompt_version(job: Job) -> str:
    """What stored rows record as their prompt version: ``<kind>/<kind version>``."""
    return f"{job.kind}/{job.kind_version}"


def _words(texts) -> set[str]:
    return {w.casefold() for text in texts for w in re.findall(r"\w+", text)}


def _jaccard(a: set, b: set) -> float:
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def _credit_for_size(job: Job, base: str, per_thousand_chars: str) -> Decimal:
    chars = job.size_hint or len(str(job.payload))
    amount = Decimal(base) + Decimal(per_thousand_chars) * Decimal(chars) / 1000
    return amount.quantize(Decimal("0.001"))


class _PipelineHandler(ABC):
    kind: str

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        if job.source_id is None:
            return ValidationReport(reasons=[f"{job.kind} job {job.pk} has no source"])
        try:
            return self.check(job, output)
        except SourceTextGone as exc:
            return ValidationReport(reasons=[f"cannot be checked any more: {exc}"])
        except Source.DoesNotExist:
            # Taken down while this result waited; its job is cancelled, so it is set aside.
            return ValidationReport(reasons=[f"source {job.source_id} was taken down"])

    @abstractmethod
    def check(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        """The kind's semantic checks of an output, against a source that still has its text."""

    def apply(self, job: Job, result: JobResult) -> None:
        self.store(job, result)
        enqueue_advance(job.source_id)

    @abstractmethod
    def store(self, job: Job, result: JobResult) -> None:
        """Store what the canonical result produces."""

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return _credit_for_size(job, "0.5", "0.5")

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        return trimming.trimmed_output(job, output)


class ExtractGraphHandler(_PipelineHandler):
    kind = extract_graph.KIND.name

    def check(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        # The capable contract's bounds, sized to the chunk, hold any node's result: the tiny
        # contract's are smaller, and submission enforced them for tiny nodes already.
        too_many = extract_graph.KIND.contract_errors(output, CAPABLE, job.payload)
        if too_many:
            return ValidationReport(reasons=too_many)
        checked = gating.check_graph_output(job, output)
        return ValidationReport(
            reasons=checked.reasons,
            rejected_items=len(checked.rejected),
            kept_items=len(checked.kept),
        )

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        names_a = {graph.name_key(e["name"]) for e in output_a["entities"]}
        names_b = {graph.name_key(e["name"]) for e in output_b["entities"]}
        anchors_a = _words(f["anchor"] for f in output_a["facts"])
        anchors_b = _words(f["anchor"] for f in output_b["facts"])
        return (
            _jaccard(names_a, names_b) >= AGREEMENT and _jaccard(anchors_a, anchors_b) >= AGREEMENT
        )

    def store(self, job: Job, result: JobResult) -> None:
        if job.facts.exists():
            return
        checked = gating.check_graph_output(job, result.output)
        graph.store_graph(job, checked, prompt_version=prompt_version(job))
        RejectedItem.objects.bulk_create(
            RejectedItem(
                job=job,
                node=result.node,
                item_kind=RejectedItem.ItemKind.FACT,
                index=rejected.index,
                reason=rejected.reason,
                message=rejected.message,
            )
            for rejected in checked.rejected
        )

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return _credit_for_size(job, "1", "1")


class ResolveEntitiesHandler(_PipelineHandler):
    kind = resolve_entities.KIND.name

    def check(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        reasons = resolution.check_decisions(job, output)
        return ValidationReport(reasons=reasons, kept_items=len(output["decisions"]))

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        a = {d["pair_id"]: d["same"] for d in output_a["decisions"]}
        b = {d["pair_id"]: d["same"] for d in output_b["decisions"]}
        shared = a.keys() & b.keys()
        return bool(shared) and sum(a[k] == b[k] for k in shared) / len(shared) >= 0.8

    def store(self, job: Job, result: JobResult) -> None:
        resolution.apply_decisions(job, result.output)


class DeriveHandler(_PipelineHandler):
    kind = derive.KIND.name

    def check(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        checked = derivation.check_derivation(job, output)
        return ValidationReport(
            reasons=checked.reasons,
            rejected_items=len(checked.rejected),
            kept_items=len(checked.kept),
        )

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        def cited(output: dict[str, Any]) -> set[int]:
            items = output["hypotheses"] + output["instructions"]
            return {i for item in items for i in item["evidence"]}

        return _jaccard(cited(output_a), cited(output_b)) >= AGREEMENT

    def store(self, job: Job, result: JobResult) -> None:
        if job.items.exists():
            return
        checked = derivation.check_derivation(job, result.output)
        derivation.store_items(job, checked, prompt_version=prompt_version(job))
        RejectedItem.objects.bulk_create(
            RejectedItem(
                job=job,
                node=result.node,
                item_kind=rejected.kind,
                index=rejected.index,
                reason=rejected.reason,
                message=rejected.message,
            )
            for rejected in checked.rejected
        )

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return _credit_for_size(job, "1", "0.5")


class VerifySupportHandler(_PipelineHandler):
    """verify_support: a verdict on one item's evidence; replicas agree on the same verdict."""

    kind = verify_support.KIND.name

    def check(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        if support.item_of(job) is None:
            return ValidationReport(reasons=["the job judges no knowledge item"])
        refused = planted_report(
            job.payload,
            {"reason": output["reason"]},
            extra_reference=(job.source.text, job.source.title),
        )
        return refused or ValidationReport(kept_items=1)

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        return output_a["verdict"] == output_b["verdict"]

    def store(self, job: Job, result: JobResult) -> None:
        support.apply_verdict(job, result.output)

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return _credit_for_size(job, "0.2", "0.2")


class ProfileHandler(_PipelineHandler):
    """describe, rate_age and reconstruct: one result per source, stored on its profile."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def check(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        checked = profile.check_profile_output(job, output)
        return ValidationReport(
            reasons=checked.reasons, rejected_items=checked.planted_fields, kept_items=1
        )

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        if self.kind == rate_age.KIND.name:
            a = AGE_RATINGS.index(output_a["age_rating"])
            b = AGE_RATINGS.index(output_b["age_rating"])
            return abs(a - b) <= 1
        if self.kind == describe.KIND.name:
            same_category = output_a["category"].casefold() == output_b["category"].casefold()
            keywords_a = {k.casefold() for k in output_a["keywords"]}
            keywords_b = {k.casefold() for k in output_b["keywords"]}
            return same_category or _jaccard(keywords_a, keywords_b) >= 0.3
        return fuzz.token_set_ratio(output_a["text"], output_b["text"]) >= 60

    def store(self, job: Job, result: JobResult) -> None:
        profile.store_profile_result(job, result.output, prompt_version=prompt_version(job))


HANDLERS = (
    ExtractGraphHandler(),
    ResolveEntitiesHandler(),
    DeriveHandler(),
    VerifySupportHandler(),
    ProfileHandler(describe.KIND.name),
    ProfileHandler(rate_age.KIND.name),
    ProfileHandler(reconstruct.KIND.name),
)


def register_pipeline_handlers() -> None:
    for handler in HANDLERS:
        register_handler(handler)
