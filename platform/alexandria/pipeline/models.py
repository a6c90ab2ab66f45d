from django.db import models


class SourceProfile(models.Model):
    """What the pipeline learnt about a source as a whole; kept after its text is purged.

    Filled by the ``describe``, ``rate_age`` and ``reconstruct`` jobs; ``entities_resolved_at``
    marks that the lexical entity-resolution pass over the source's graph has run.
    """

    source = models.OneToOneField(
        "sources.Source", on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    genre = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=100, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    describe_job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    describe_prompt_version = models.CharField(max_length=32, blank=True)

    age_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Minimum reader age: 0, 6, 12, 16 or 18."
    )
    age_reasons = models.JSONField(
        default=dict, blank=True, help_text="violence, sexual_content, suitability."
    )
    rate_age_job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rate_age_prompt_version = models.CharField(max_length=32, blank=True)

    profile_parts = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each part's describe / rate_age judgement with its offsets, by kind.",
    )

    reconstruction = models.TextField(blank=True, help_text="The text regenerated from the graph.")
    reconstruction_fidelity = models.FloatField(
        null=True,
        blank=True,
        help_text="Share of facts whose subject and object the text states.",
    )
    fidelity_details = models.JSONField(default=dict, blank=True)
    reconstruct_job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reconstruct_prompt_version = models.CharField(max_length=32, blank=True)

    entities_resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(age_rating__isnull=True)
                | models.Q(age_rating__in=[0, 6, 12, 16, 18]),
                name="profile_age_rating_scale",
            ),
            models.CheckConstraint(
                condition=models.Q(reconstruction_fidelity__isnull=True)
                | (
                    models.Q(reconstruction_fidelity__gte=0)
                    & models.Q(reconstruction_fidelity__lte=1)
                ),
                name="profile_fidelity_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"profile of source {self.source_id}"


class RejectedItem(models.Model):
    """A part of an accepted job result the backend dropped, and why (shown to node owners)."""

    class ItemKind(models.TextChoices):
        FACT = "fact"
        HYPOTHESIS = "hypothesis"
        INSTRUCTION = "instruction"

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="rejected_items")
    node = models.ForeignKey(
        "jobs.WorkerNode",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rejected_items",
    )
    item_kind = models.CharField(max_length=16, choices=ItemKind.choices)
    index = models.PositiveIntegerField(help_text="Position of the item in the job's output.")
    reason = models.CharField(max_length=64)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "item_kind", "index"]
        indexes = [models.Index(fields=["node", "reason"], name="rejected_item_node_reason")]

    def __str__(self) -> str:
        return f"{self.item_kind} {self.index} of job {self.job_id}: {self.reason}"
