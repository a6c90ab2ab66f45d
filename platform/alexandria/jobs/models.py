import uuid

from django.db import models
from django.db.models import Q


class WorkerNode(models.Model):
    """A volunteer's machine. Its token is shown once and stored only as a SHA-256 hash."""

    owner = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="nodes"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters of the token, to recognise it."
    )
    capabilities = models.JSONField(
        default=dict, help_text="kinds, models, max_context_tokens, gpu as registered."
    )
    trust = models.FloatField(
        default=0.0, help_text="0 = new/untrusted (always replicated) … 1 = fully trusted."
    )
    valid_results = models.PositiveIntegerField(default=0)
    invalid_results = models.PositiveIntegerField(default=0)
    rejected_facts = models.PositiveIntegerField(default=0)
    is_flagged = models.BooleanField(default=False)
    flag_reason = models.TextField(blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # After created_at: the node lookup (pg_queue) reads fields in this order.
    paused_until = models.DateTimeField(
        null=True, blank=True, help_text="Leases nothing before then: it released too much."
    )
    pause_reason = models.TextField(blank=True)
    releases = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Leases it gave back without a result (its model failing, shutdown).",
    )
    reported_state = models.CharField(
        max_length=16, blank=True, help_text="What the node last said: working, paused, stopped."
    )
    reported_reason = models.TextField(blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="node_unique_name_per_owner"),
            models.CheckConstraint(
                condition=models.Q(trust__gte=0) & models.Q(trust__lte=1), name="node_trust_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Job(models.Model):
    """One unit of work for a volunteer node. The database is the queue's source of truth."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        LEASED = "leased"
        VALIDATING = "validating"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    kind = models.CharField(max_length=64)
    kind_version = models.CharField(max_length=16, default="1")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first.")
    size_hint = models.PositiveIntegerField(
        default=0, help_text="Input size in characters; scales the lease time-to-live."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # db_default too: rows written in SQL of its own (bulk loads, benches) need no value.
    releases = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Times a node gave it back unfinished (no attempt)."
    )
    max_attempts = models.PositiveSmallIntegerField(default=5)
    lease_owner = models.ForeignKey(
        WorkerNode, on_delete=models.SET_NULL, null=True, blank=True, related_name="leased_jobs"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    source = models.ForeignKey(
        "sources.Source",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="jobs",
        db_index=False,  # job_source: the jobs that have one
    )
    replica_of = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="replicas",
        db_index=False,  # job_replica_of: the jobs that are replicas
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Partial indexes: a job changes status several times, and PostgreSQL writes each new
        # row version into every index whose condition it meets, so a status change costs one
        # entry in each full index. These hold only the rows their queries look for.
        indexes = [
            # The lease order: several kinds at once, or one kind.
            models.Index(
                fields=["-priority", "id"], condition=Q(status="queued"), name="job_queue_order"
            ),
            models.Index(
                fields=["kind", "-priority", "id"],
                condition=Q(status="queued"),
                name="job_kind_queue_order",
            ),
            # Overdue leases, taken over by the next lease call.
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="leased"), name="job_lease_expiry"
            ),
            # Work in progress: the stalled-replication scan, and counts of open jobs.
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=["queued", "leased", "validating"]),
                name="job_unfinished",
            ),
            models.Index(fields=["source"], condition=Q(source__isnull=False), name="job_source"),
            models.Index(
                fields=["replica_of"], condition=Q(replica_of__isnull=False), name="job_replica_of"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="leased")
                | (models.Q(lease_owner__isnull=False) & models.Q(lease_expires_at__isnull=False)),
                name="job_leased_has_owner_and_expiry",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"


class Lease(models.Model):
    """One hand-out of a job to a node; its id is the node's handle for heartbeat and submit."""

    class State(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        EXPIRED = "expired"
        RELEASED = "released"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="leases")
    node = models.ForeignKey(
        WorkerNode,
        on_delete=models.CASCADE,
        related_name="leases",
        db_index=False,  # lease_node_state starts with it
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    leased_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job"],
                condition=models.Q(state="active"),
                name="one_active_lease_per_job",
            )
        ]
        indexes = [models.Index(fields=["node", "state"], name="lease_node_state")]

    def __str__(self) -> str:
        return f"lease {self.id} of job {self.job_id} ({self.state})"


class JobResult(models.Model):
    """What a node submitted for a lease; validated before anything downstream sees it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        VALID = "valid"
        INVALID = "invalid"
        SUPERSEDED = "superseded"

    job = models.ForeignKey(
        Job,
        on_delete=models.CASCADE,
        related_name="results",
        db_index=False,  # result_job_status starts with it
    )
    node = models.ForeignKey(WorkerNode, on_delete=models.CASCADE, related_name="results")
    lease = models.OneToOneField(Lease, on_delete=models.CASCADE, related_name="result")
    output = models.JSONField()
    output_sha256 = models.CharField(max_length=64)
    stats = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rejection_reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "status"], name="result_job_status"),
            # Results nobody validated (the reconciler's scan); validation takes them out.
            models.Index(
                fields=["created_at"], condition=Q(status="pending"), name="result_pending_since"
            ),
        ]

    def __str__(self) -> str:
        return f"result {self.pk} of job {self.job_id} ({self.status})"


class JobEvent(models.Model):
    """Error and lease history of a job, shown in admin (failures, releases, expiries)."""

    class Kind(models.TextChoices):
        ERROR = "error"
        RELEASED = "released"
        EXPIRED = "expired"
        INVALID = "invalid"
        DEAD_LETTERED = "dead_lettered"
        REQUEUED = "requeued"
        CANCELLED = "cancelled"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    node = models.ForeignKey(WorkerNode, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on job {self.job_id}"


class CreditEntry(models.Model):
    """Ledger of credit, granted once per (job, node) after validation, with its reason."""

    contributor = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="credit_entries"
    )
    node = models.ForeignKey(WorkerNode, on_delete=models.CASCADE, related_name="credit_entries")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="credit_entries")

    class Basis(models.TextChoices):
        AGREED = "agreed", "validated, agreed with another contributor's result"
        TRUSTED = "trusted", "validated, trusted node (not replicated)"

    amount = models.DecimalField(max_digits=12, decimal_places=3)
    reason = models.CharField(max_length=200)
    basis = models.CharField(
        max_length=16, choices=Basis.choices, help_text="Why the result earned credit."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "credit entries"
        constraints = [
            models.UniqueConstraint(fields=["job", "node"], name="credit_once_per_job_and_node"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="credit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.contributor} for job {self.job_id}"
