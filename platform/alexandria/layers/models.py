from django.db import models


class MergeCheck(models.Model):
    """The item was compared with its layer: it merged, stayed canonical or went to a vote.

    Items without a check are picked up by the next merge run; splitting a merge deletes the
    check so the item is compared again.
    """

    item = models.OneToOneField(
        "knowledge.KnowledgeItem",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="merge_check",
    )
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"merge check of item {self.item_id}"


class MergeRecord(models.Model):
    """One item merged into a canonical item, with what the canonical item gained (so the
    merge can be split again)."""

    class Method(models.TextChoices):
        GUARD = "guard", "texts equal after normalisation"
        LLM = "llm", "verified by a verify_merge job"

    canonical = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="absorbed_records"
    )
    merged = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="merge_records"
    )
    similarity = models.FloatField()
    method = models.CharField(max_length=8, choices=Method.choices)
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_anchors = models.ManyToManyField(
        "knowledge.Anchor", blank=True, related_name="+", help_text="Anchors the merge added."
    )
    added_derived_from = models.ManyToManyField(
        "knowledge.KnowledgeItem",
        blank=True,
        related_name="+",
        help_text="Items the canonical item newly rests on through the merge.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    split_at = models.DateTimeField(null=True, blank=True)
    split_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["canonical", "split_at"], name="merge_canonical_active")]
        constraints = [
            models.UniqueConstraint(
                fields=["merged"],
                condition=models.Q(split_at__isnull=True),
                name="merge_one_active_record_per_item",
            ),
            models.CheckConstraint(
                condition=~models.Q(canonical=models.F("merged")), name="merge_not_into_self"
            ),
        ]

    def __str__(self) -> str:
        state = "split" if self.split_at else "active"
        return f"{self.merged_id} → {self.canonical_id} ({self.method}, {state})"


class MergeVerification(models.Model):
    """An uncertain pair (similar, guards passed, texts not equal) put to a vote."""

    canonical = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="+"
    )
    candidate = models.ForeignKey(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="+"
    )
    similarity = models.FloatField()
    job = models.OneToOneField(
        "jobs.Job", on_delete=models.CASCADE, related_name="merge_verification"
    )
    same_meaning = models.BooleanField(null=True, blank=True)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["canonical", "candidate"], name="verify_pair_once")
        ]

    def __str__(self) -> str:
        return f"verify {self.candidate_id} ≟ {self.canonical_id}"


class NodeAbstraction(models.Model):
    """Building the next layer from one node: probes, their neighbours, the new items."""

    class Phase(models.TextChoices):
        PROBING = "probing"
        RETRIEVING = "retrieving"
        COMPOSING = "composing"
        DONE = "done"
        USELESS = "useless", "judged useless for abstraction"
        FAILED = "failed"

    node = models.OneToOneField(
        "knowledge.KnowledgeItem", on_delete=models.CASCADE, related_name="abstraction_run"
    )
    layer = models.PositiveSmallIntegerField(help_text="The node's layer.")
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.PROBING)
    probe_job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    compose_job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    judge_job = models.ForeignKey(
        "jobs.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The judge_usefulness job on the items the composition created.",
    )
    probes = models.JSONField(default=list, blank=True)
    neighbour_ids = models.JSONField(default=list, blank=True)
    items_created = models.PositiveIntegerField(default=0)
    dropped_not_novel = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["layer", "phase"], name="abstraction_layer_phase")]

    def __str__(self) -> str:
        return f"abstraction of item {self.node_id} ({self.phase})"


class LayerBuild(models.Model):
    """The build of one abstraction layer (2 and up) from the layer below it."""

    class Status(models.TextChoices):
        BUILDING = "building"
        COMPLETE = "complete", "every node of the layer below is abstracted"
        STOPPED = "stopped"

    layer = models.PositiveSmallIntegerField(unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    stop_reason = models.TextField(blank=True)
    items_created = models.PositiveIntegerField(default=0, help_text="New items stored.")
    dropped_not_novel = models.PositiveIntegerField(
        default=0, help_text="New items dropped as too similar to an item they combine."
    )
    judged_useful = models.PositiveIntegerField(default=0)
    judged_useless = models.PositiveIntegerField(
        default=0, help_text="New items a judge_usefulness job rejected."
    )
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["layer"]
        constraints = [
            models.CheckConstraint(condition=models.Q(layer__gte=2), name="layer_build_above_1")
        ]

    def __str__(self) -> str:
        return f"layer {self.layer} ({self.status})"


class UsefulnessVerdict(models.Model):
    """A new item of layer 2 or up and the judge_usefulness verdict on it.

    ``useful`` stays null until the judge decides: until then the item is not abstracted
    further; a useless item is rejected and never is.
    """

    item = models.OneToOneField(
        "knowledge.KnowledgeItem",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="usefulness",
    )
    run = models.ForeignKey(NodeAbstraction, on_delete=models.CASCADE, related_name="verdicts")
    useful = models.BooleanField(null=True, blank=True)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        verdict = {None: "awaiting judgement", True: "useful", False: "useless"}[self.useful]
        return f"item {self.item_id}: {verdict}"
