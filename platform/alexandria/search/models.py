from django.db import models


class StanceVerdict(models.Model):
    """A judge_stance vote on a pair of hypotheses: does ``other`` support or contradict
    ``claim``, or neither? One per unordered pair (the scheduler stores the lower id as the
    claim), reused for /ask in either direction; ``relation`` is empty until decided."""

    class Relation(models.TextChoices):
        SUPPORTS = "supports"
        CONTRADICTS = "contradicts"
        UNRELATED = "unrelated"

    claim = models.ForeignKey("knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey("knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="+")
    relation = models.CharField(max_length=12, choices=Relation.choices, blank=True)
    reason = models.TextField(blank=True)
    job = models.OneToOneField(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["claim", "other"], name="stance_pair_once"),
            models.CheckConstraint(
                condition=models.Q(claim__lt=models.F("other")), name="stance_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"stance {self.other_id} → {self.claim_id}: {self.relation or 'pending'}"


class StanceScan(models.Model):
    """The item's nearest hypotheses all have a stance verdict or a job: the scheduler moves
    on. Items indexed later find it from their side (pairs are unordered)."""

    item = models.OneToOneField(
        "knowledge.KnowledgeItem",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="stance_scan",
    )
    scanned_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"stance scan of item {self.item_id}"
