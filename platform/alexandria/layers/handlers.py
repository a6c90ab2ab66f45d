"""Result handlers for the layers' volunteer jobs: verify_merge, abstract, judge_usefulness."""

from decimal import Decimal
from typing import Any

from alexandria.jobs.free_text import planted_report
from alexandria.jobs.handlers import ValidationReport
from alexandria.jobs.models import Job, JobResult
from alexandria.layers.models import MergeVerification, NodeAbstraction
from alexandria.layers.services.abstraction import (
    check_composition,
    record_probes,
    stop_if_unproductive,
    store_composition,
)
from alexandria.layers.services.merging import apply_verification
from alexandria.layers.services.usefulness import record_verdicts, verdict_errors

VERIFY_CREDIT = Decimal("0.05")
PROBE_CREDIT = Decimal("0.1")
COMPOSE_CREDIT = Decimal("0.2")
# Two compositions agree when they rest on mostly the same items (their wording never matches).
COMPOSE_AGREEMENT = 0.5
MAX_REJECTED_SHARE = 0.5
JUDGE_CREDIT = Decimal("0.05")
# Two judgements agree when they give the same verdict on more than this share of the items.
JUDGE_AGREEMENT = 0.5


class VerifyMergeHandler:
    kind = "verify_merge"

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        if not MergeVerification.objects.filter(job=job.replica_of_id or job.pk).exists():
            return ValidationReport(reasons=["the job belongs to no merge verification"])
        refused = planted_report(job.payload, {"reason": output["reason"]})
        return refused or ValidationReport(kept_items=1)

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        return output_a["same_meaning"] == output_b["same_meaning"]

    def apply(self, job: Job, result: JobResult) -> None:
        apply_verification(
            job, same_meaning=result.output["same_meaning"], reason=result.output["reason"]
        )

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return VERIFY_CREDIT

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """A verdict on two items quotes no source text: kept as it is."""
        return output


def _abstract_texts(output: dict[str, Any]) -> dict[str, str]:
    """What an abstract result stores in the node's words: probes, new items and their steps."""
    texts = {f"probes[{i}]": probe["text"] for i, probe in enumerate(output.get("probes", []))}
    for i, item in enumerate(output.get("items", [])):
        texts[f"items[{i}]"] = item["text"]
        texts[f"items[{i}].antithesis"] = item.get("antithesis", "")
        texts.update({f"steps[{i}.{n}]": step for n, step in enumerate(item.get("steps", []))})
    return texts


def _combined_ids(output: dict[str, Any]) -> set[int]:
    return {i for item in output.get("items", []) for i in item["combines"]}


class AbstractHandler:
    kind = "abstract"

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        primary = job.replica_of_id or job.pk
        phase = job.payload["phase"]
        if output["phase"] != phase:
            return ValidationReport(reasons=[f"a {phase} job answered as {output['phase']}"])
        run_filter = {"probe_job": primary} if phase == "probe" else {"compose_job": primary}
        if not NodeAbstraction.objects.filter(**run_filter).exists():
            return ValidationReport(reasons=["the job belongs to no node abstraction"])
        refused = planted_report(job.payload, _abstract_texts(output), commands_in=("steps",))
        if refused:
            return refused
        if phase == "probe":
            return ValidationReport(kept_items=len(output["probes"]))
        check = check_composition(job, output)
        total = len(check.kept) + len(check.rejected)
        if check.rejected and (not check.kept or len(check.rejected) / total > MAX_REJECTED_SHARE):
            return ValidationReport(
                reasons=[f"{len(check.rejected)} of {total} items rejected", *check.rejected[:20]],
                rejected_items=len(check.rejected),
            )
        return ValidationReport(rejected_items=len(check.rejected), kept_items=len(check.kept))

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        """Generated text never matches word for word: two results agree when they make the
        same decisions (useless or not; for compositions, mostly the same combined items)."""
        if output_a["phase"] != output_b["phase"] or output_a["useless"] != output_b["useless"]:
            return False
        if output_a["phase"] == "probe" or output_a["useless"]:
            return True
        ids_a, ids_b = _combined_ids(output_a), _combined_ids(output_b)
        if not ids_a and not ids_b:
            return True
        return len(ids_a & ids_b) / len(ids_a | ids_b) >= COMPOSE_AGREEMENT

    def apply(self, job: Job, result: JobResult) -> None:
        if job.payload["phase"] == "probe":
            record_probes(job, result.output)
        else:
            store_composition(job, result.output)

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return PROBE_CREDIT if job.payload["phase"] == "probe" else COMPOSE_CREDIT

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """Abstractions are written over items, not source texts: kept as they are."""
        return output


class JudgeUsefulnessHandler:
    kind = "judge_usefulness"

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        errors = verdict_errors(job, output)
        if errors:
            return ValidationReport(reasons=errors)
        reasons = {f"verdicts[{i}]": v["reason"] for i, v in enumerate(output["verdicts"])}
        refused = planted_report(job.payload, reasons)
        return refused or ValidationReport(kept_items=len(output["verdicts"]))

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        """Reasons are worded differently: two judgements agree when they give the same
        useful flag on most of the items."""
        flags_a = {v["id"]: v["useful"] for v in output_a["verdicts"]}
        flags_b = {v["id"]: v["useful"] for v in output_b["verdicts"]}
        ids = flags_a.keys() | flags_b.keys()
        same = sum(1 for i in ids if i in flags_a and flags_a[i] == flags_b.get(i))
        return same > JUDGE_AGREEMENT * len(ids)

    def apply(self, job: Job, result: JobResult) -> None:
        stop_if_unproductive(record_verdicts(job, result.output))

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return JUDGE_CREDIT

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """Verdicts on knowledge items quote no source text: kept as they are."""
        return output
