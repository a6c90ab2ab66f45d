"""Result handler for ``clip_embed`` jobs: figure embeddings from volunteer nodes."""

from decimal import Decimal
from typing import Any

from alexandria.figures.services.results import check_result, results_agree, store_embeddings
from alexandria.jobs.handlers import ValidationReport
from alexandria.jobs.models import Job, JobResult
from jobkinds import clip_embed

CREDIT_PER_FIGURE = Decimal("0.01")


class ClipEmbedHandler:
    kind = clip_embed.KIND.name

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        reasons = check_result(job, output)
        kept = 0 if reasons else len(output["figures"])
        return ValidationReport(reasons=reasons, kept_items=kept)

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        return results_agree(output_a, output_b)

    def apply(self, job: Job, result: JobResult) -> None:
        store_embeddings(job, result.output)

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return CREDIT_PER_FIGURE * len(job.payload["figures"])

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """Embeddings and similarities quote no source text: kept as they are."""
        return output
