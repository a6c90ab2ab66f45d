from django.db import models


class ReviewTask(models.Model):
    """One item handed to one member for review; open until answered or expired."""

    contributor = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="review_tasks"
    )
    item = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="review_tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    verdict = models.CharField(max_length=16, blank=True)
    review = models.OneToOneField(
        "knowledge.Review",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="task",
    )

    class Meta:
        indexes = [
            models.Index(fields=["contributor", "answered_at", "expires_at"], name="task_open"),
            models.Index(fields=["item", "answered_at", "expires_at"], name="task_item_open"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contributor", "item"],
                condition=models.Q(answered_at__isnull=False),
                name="task_answered_once_per_member",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="task_expires_later"
            ),
        ]

    def __str__(self) -> str:
        return f"task {self.pk}: item {self.item_id} for {self.contributor_id}"


class GoldItem(models.Model):
    """A statement whose right verdict is known, planted among the work to calibrate reviewers."""

    class Expected(models.TextChoices):
        SUPPORTED = "supported"
        NOT_SUPPORTED = "not_supported"

    item = models.OneToOneField(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="gold"
    )
    expected_verdict = models.CharField(max_length=16, choices=Expected.choices)
    note = models.TextField(blank=True, help_text="Why this verdict is right (for moderators).")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"gold {self.expected_verdict}: item {self.item_id}"


class Settlement(models.Model):
    """The moment consensus decided an item, with the weights that decided it."""

    item = models.OneToOneField(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="settlement"
    )
    outcome = models.CharField(max_length=16)
    supported_weight = models.FloatField()
    not_supported_weight = models.FloatField()
    unclear_weight = models.FloatField()
    settled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"item {self.item_id} {self.outcome}"


class ReputationEvent(models.Model):
    """One change of a member's reputation, with the reason (the ledger behind the number)."""

    contributor = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="reputation_events"
    )
    delta = models.FloatField()
    reputation_after = models.FloatField()
    reason = models.CharField(max_length=300)
    item = models.ForeignKey(
        "knowledge.KnowledgeItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reputation_events",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["contributor", "-created_at"], name="reputation_ledger")]

    def __str__(self) -> str:
        return f"{self.contributor_id} {self.delta:+.3f}: {self.reason}"


class EditProposal(models.Model):
    """A reviewer's better wording of an item; endorsed by others who propose the same text."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        DECLINED = "declined"

    item = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="edit_proposals"
    )
    proposer = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="edit_proposals"
    )
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    endorsers = models.ManyToManyField(
        "contributors.Contributor", related_name="endorsed_edits", blank=True
    )
    new_version = models.OneToOneField(
        "knowledge.KnowledgeItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_by_edit",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"edit {self.pk} of item {self.item_id} ({self.status})"


class Report(models.Model):
    """A member flagged an item for moderators; the bot relays it to the moderation channel."""

    item = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="reports"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    relayed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the bot posted it to the moderation channel."
    )

    def __str__(self) -> str:
        return f"report {self.pk} on item {self.item_id}"
