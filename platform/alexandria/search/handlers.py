"""Result handler for the search app's volunteer job: judge_stance."""

from decimal import Decimal
from typing import Any

from alexandria.jobs.free_text import planted_report
from alexandria.jobs.handlers import ValidationReport
from alexandria.jobs.models import Job, JobResult
from alexandria.search.models import StanceVerdict
from alexandria.search.services.judging import record_verdict

JUDGE_CREDIT = Decimal("0.05")


class JudgeStanceHandler:
    kind = "judge_stance"

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        if not StanceVerdict.objects.filter(job=job.replica_of_id or job.pk).exists():
            return ValidationReport(reasons=["the job belongs to no stance verdict"])
        refused = planted_report(job.payload, {"reason": output["reason"]})
        return refused or ValidationReport(kept_items=1)

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        return output_a["relation"] == output_b["relation"]

    def apply(self, job: Job, result: JobResult) -> None:
        record_verdict(job, relation=result.output["relation"], reason=result.output["reason"])

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return JUDGE_CREDIT

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """A verdict on two items quotes no source text: kept as it is."""
        return output
