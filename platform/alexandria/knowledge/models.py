from django.db import models

from alexandria.textproc.fragments import fragment_text, text_fragment_url

ANCHOR_MAX_CHARS = 200


class Entity(models.Model):
    """A named thing in one source's graph; ``canonical`` points to the entity it resolved to."""

    source = models.ForeignKey("sources.Source", on_delete=models.CASCADE, related_name="entities")
    name = models.CharField(max_length=300)
    type = models.CharField(max_length=64)
    aliases = models.JSONField(default=list, blank=True)
    canonical = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resolved"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "name", "type"], name="entity_unique_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class Anchor(models.Model):
    """A located span of a source: exact offsets into its normalised text, the span's hash,
    and at most a short quote of the span's ends (W3C Text Fragments' ``textStart`` and
    ``textEnd``), never the span itself: ``text[start:end]`` hashes to ``span_sha256``, starts
    with ``text_start`` and ends with ``text_end`` (see ``textproc.fragments``)."""

    source = models.ForeignKey("sources.Source", on_delete=models.CASCADE, related_name="anchors")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    span_sha256 = models.CharField(max_length=64, help_text="SHA-256 of text[start:end].")
    text_start = models.CharField(
        max_length=ANCHOR_MAX_CHARS, blank=True, help_text="The first words of the span."
    )
    text_end = models.CharField(
        max_length=ANCHOR_MAX_CHARS,
        blank=True,
        help_text="The last words of the span; empty when text_start covers it, or no quote.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "start", "end"], name="anchor_unique_span"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="anchor_span"
            ),
            models.CheckConstraint(
                condition=~models.Q(text_start="") | models.Q(text_end=""),
                name="anchor_text_end_needs_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}[{self.start}:{self.end}] {self.fragment[:40]!r}"

    @property
    def fragment(self) -> str:
        """The quote as citations show it: ``text_start … text_end``."""
        return fragment_text(self.text_start, self.text_end)

    @property
    def link(self) -> str:
        """The source's URL with a text directive that highlights the span (W3C Text Fragments)."""
        return text_fragment_url(self.source.url, self.text_start, self.text_end)


class Fact(models.Model):
    """A relation (subject → predicate → object entity) or attribute (subject.predicate = value)."""

    class Kind(models.TextChoices):
        RELATION = "relation"
        ATTRIBUTE = "attribute"

    source = models.ForeignKey("sources.Source", on_delete=models.CASCADE, related_name="facts")
    chunk = models.ForeignKey(
        "sources.Chunk", on_delete=models.SET_NULL, null=True, blank=True, related_name="facts"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    subject = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="facts_as_subject")
    predicate = models.CharField(max_length=200)
    object_entity = models.ForeignKey(
        Entity, on_delete=models.CASCADE, null=True, blank=True, related_name="facts_as_object"
    )
    value = models.TextField(blank=True)
    anchor = models.ForeignKey(Anchor, on_delete=models.PROTECT, related_name="facts")
    temporal_id = models.PositiveIntegerField(help_text="Order in which the fact appears.")
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="facts"
    )
    prompt_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["source", "temporal_id"], name="fact_source_order")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="relation") & models.Q(object_entity__isnull=False))
                | (models.Q(kind="attribute") & models.Q(object_entity__isnull=True)),
                name="fact_kind_matches_object",
            )
        ]

    def __str__(self) -> str:
        target = self.object_entity or self.value
        return f"{self.subject} —{self.predicate}→ {target}"


class KnowledgeItem(models.Model):
    """A hypothesis or an instruction, on abstraction layer 1 (from sources) or higher."""

    class Kind(models.TextChoices):
        HYPOTHESIS = "hypothesis"
        INSTRUCTION = "instruction"

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        HIDDEN = "hidden"
        WITHDRAWN = "withdrawn", "withdrawn (its evidence was taken down)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    layer = models.PositiveSmallIntegerField(default=1)
    text = models.TextField()
    details = models.JSONField(
        default=dict,
        blank=True,
        help_text="Hypothesis: stance, supports, contradicts. Instruction: goal, prerequisites, "
        "steps.",
    )
    confidence = models.FloatField(null=True, blank=True)

    class Support(models.TextChoices):
        UNVERIFIED = "unverified", "unverified (its verify_support job is not decided)"
        SUPPORTED = "supported"
        UNSUPPORTED = "unsupported", "unsupported (its evidence does not support it)"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    hidden_reason = models.TextField(blank=True)
    # Layer-1 derivation stores its items unverified and a verify_support job decides; items
    # built from supported ones (abstractions through relevant provenance, edits) are supported.
    support = models.CharField(
        max_length=16,
        choices=Support.choices,
        default=Support.SUPPORTED,
        help_text="Whether the item's evidence supports it; only supported items are shown.",
    )
    support_job = models.ForeignKey(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supported_items",
        help_text="The verify_support job that judges the item against its anchors' spans.",
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_items"
    )
    previous_version = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="next_versions"
    )
    derived_from = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="abstractions"
    )
    anchors = models.ManyToManyField(Anchor, related_name="items", blank=True)
    author = models.ForeignKey(
        "contributors.Contributor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_items",
        help_text="The member whose submission or edit produced this item (cannot review it).",
    )
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    prompt_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["layer", "kind", "status"], name="item_layer_kind_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(layer__gte=1), name="item_layer_positive"),
            models.CheckConstraint(
                condition=~models.Q(merged_into=models.F("id")), name="item_not_merged_into_self"
            ),
        ]

    def __str__(self) -> str:
        return f"L{self.layer} {self.kind}: {self.text[:60]}"


class Review(models.Model):
    """One member's verdict on an item; weighted by their reputation when votes are counted."""

    class Verdict(models.TextChoices):
        SUPPORTED = "supported"
        NOT_SUPPORTED = "not_supported"
        UNCLEAR = "unclear"
        SKIP = "skip"
        REPORT = "report"

    item = models.ForeignKey(KnowledgeItem, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="reviews"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    weight = models.FloatField(help_text="Reviewer reputation when the vote was cast.")
    comment = models.TextField(blank=True)
    proposed_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="review_once_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} → {self.verdict} on {self.item_id}"
