"""Result handler for ``clip_score`` jobs (LAION-5B style image/text filtering).

There is no image store yet, so a validated result produces nothing downstream: the job's
canonical result (kept in ``JobResult``) is the record of which pairs to keep.
"""

from decimal import Decimal
from typing import Any

from alexandria.jobs.handlers import ValidationReport
from alexandria.jobs.models import Job, JobResult
from jobkinds.clip_score import DEFAULT_MODEL, DEFAULT_THRESHOLD

# Two nodes with different GPUs/precision give slightly different cosine similarities.
SIMILARITY_TOLERANCE = 0.02
# Rounding around the threshold must not make an honest keep flag look inconsistent.
THRESHOLD_SLACK = 1e-6
CREDIT_PER_PAIR = Decimal("0.01")


class ClipScoreHandler:
    kind = "clip_score"

    def validate(self, job: Job, output: dict[str, Any]) -> ValidationReport:
        expected_model = job.payload.get("model", DEFAULT_MODEL)
        threshold = job.payload.get("threshold", DEFAULT_THRESHOLD)
        pair_ids = [pair["id"] for pair in job.payload["pairs"]]
        score_ids = [score["id"] for score in output["scores"]]
        reasons = []
        if output["model"] != expected_model:
            reasons.append(f"scored with {output['model']!r}, the job asked for {expected_model!r}")
        if sorted(score_ids) != sorted(pair_ids):
            missing = sorted(set(pair_ids) - set(score_ids))
            unknown = sorted(set(score_ids) - set(pair_ids))
            duplicated = len(score_ids) - len(set(score_ids))
            reasons.append(
                "scores must cover every pair exactly once "
                f"(missing {missing[:10]}, unknown {unknown[:10]}, {duplicated} duplicated)"
            )
        inconsistent = [
            score["id"]
            for score in output["scores"]
            if score["keep"] != (score["similarity"] > threshold)
            and abs(score["similarity"] - threshold) > THRESHOLD_SLACK
        ]
        if inconsistent:
            reasons.append(
                f"keep flags contradict the threshold {threshold} for {inconsistent[:10]}"
            )
        kept = sum(1 for score in output["scores"] if score["keep"])
        return ValidationReport(reasons=reasons, rejected_items=0, kept_items=kept)

    def agree(self, output_a: dict[str, Any], output_b: dict[str, Any]) -> bool:
        scores_a = {score["id"]: score for score in output_a["scores"]}
        scores_b = {score["id"]: score for score in output_b["scores"]}
        if scores_a.keys() != scores_b.keys():
            return False
        return all(
            abs(scores_a[pair_id]["similarity"] - scores_b[pair_id]["similarity"])
            <= SIMILARITY_TOLERANCE
            and scores_a[pair_id]["keep"] == scores_b[pair_id]["keep"]
            for pair_id in scores_a
        )

    def apply(self, job: Job, result: JobResult) -> None:
        """Nothing to store downstream yet: the canonical JobResult is the filtering record."""

    def credit(self, job: Job, result: JobResult) -> Decimal:
        return CREDIT_PER_PAIR * len(job.payload["pairs"])

    def trim(self, job: Job, output: dict[str, Any]) -> dict[str, Any]:
        """Scores quote no source text: kept as they are."""
        return output
