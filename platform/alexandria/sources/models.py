from django.db import models


class Source(models.Model):
    """A submitted text. Offsets everywhere refer to its normalised text (hash in ``sha256``).

    The full text is kept only while it is being analysed and purged afterwards; the citation,
    hash and anchors stay. An uploaded file waits in ``SourceUpload`` until a worker has
    extracted its text (``extracting``; no text and no ``sha256`` yet).
    """

    class Status(models.TextChoices):
        EXTRACTING = "extracting"
        RECEIVED = "received"
        CHUNKED = "chunked"
        ANALYSING = "analysing"
        ANALYSED = "analysed"
        FAILED = "failed"

    class Format(models.TextChoices):
        TEXT = "text"
        MARKDOWN = "markdown"
        HTML = "html"
        PDF = "pdf"

    title = models.CharField(max_length=500)
    authors = models.CharField(max_length=1000, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    doi = models.CharField(max_length=255, blank=True)
    licence_note = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.TEXT)
    sha256 = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text="Of the normalised text; empty until an upload's text is extracted.",
    )
    char_count = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    failure_reason = models.TextField(
        blank=True, help_text="Why the source failed, as its submitter is told."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text="Times the reconciler restarted its current stage; past SOURCE_MAX_ATTEMPTS "
        "it fails instead.",
    )
    submitted_by = models.ForeignKey(
        "contributors.Contributor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sources",
    )
    text = models.TextField(blank=True, help_text="Normalised full text; purged after analysis.")
    text_purged_at = models.DateTimeField(null=True, blank=True)
    file_sha256 = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="SHA-256 of the bytes as submitted (the file, or the text's UTF-8), so a "
        "takedown can name the file; blank for sources submitted before it was recorded.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(text_purged_at__isnull=True) | models.Q(text=""),
                name="source_purged_text_is_empty",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_purged(self) -> bool:
        return self.text_purged_at is not None


class SourceUpload(models.Model):
    """An uploaded file waiting for extraction, off the request path (``sources.uploads``).

    Deleted as soon as extraction ends, whatever its outcome: the source's text, not the
    file, is what analysis reads, and it is purged in turn (copyright retention).
    """

    source = models.OneToOneField(
        Source, on_delete=models.CASCADE, primary_key=True, related_name="upload"
    )
    data = models.BinaryField()
    content_type = models.CharField(max_length=255, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    title_given = models.BooleanField(
        default=False, help_text="The member named it; else the document's title is used."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"upload of source {self.source_id} ({len(self.data):,} bytes)"


class Chunk(models.Model):
    """A sentence-aligned span of a source, with read-only context around it (offsets only)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    context_start = models.PositiveIntegerField()
    context_end = models.PositiveIntegerField()

    class Meta:
        ordering = ["source", "index"]
        constraints = [
            models.UniqueConstraint(fields=["source", "index"], name="chunk_unique_index"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="chunk_span"
            ),
            models.CheckConstraint(
                condition=models.Q(context_start__lte=models.F("start"))
                & models.Q(context_end__gte=models.F("end")),
                name="chunk_context_covers_span",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}#{self.index} [{self.start}:{self.end}]"


class SourceFingerprint(models.Model):
    """What remains of a source's wording once its text is purged: keyed 64-bit hashes of its
    ``shingle_words``-word shingles (``alexandria.sources.fingerprints``).

    Enough to tell whether another text repeats that many consecutive words of the source,
    too little to rebuild a word of it without the key. ``key_id`` names the key that hashed
    it, so a changed key is detected instead of silently matching nothing.
    """

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="fingerprint")
    hashes = models.BinaryField(
        help_text="Sorted distinct shingle hashes, unsigned 64-bit little-endian integers."
    )
    shingle_words = models.PositiveSmallIntegerField()
    word_count = models.PositiveIntegerField()
    key_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"fingerprint of source {self.source_id} ({self.word_count} words)"


class Takedown(models.Model):
    """A removal request carried out (a rights holder's, through staff): which sources it
    covers, why, and who asked. It also refuses matching submissions for good.

    ``value`` is a source id, an exact URL, a URL prefix, a domain (its subdomains included)
    or the SHA-256 of a submitted file or of a normalised text, as ``scope`` says.
    """

    class Scope(models.TextChoices):
        SOURCE = "source", "source id"
        URL = "url", "exact URL"
        URL_PREFIX = "url_prefix", "URLs starting with"
        DOMAIN = "domain", "a domain and its subdomains"
        SHA256 = "sha256", "SHA-256 of the submitted file or of the normalised text"

    scope = models.CharField(max_length=16, choices=Scope.choices)
    value = models.CharField(max_length=2000)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        "contributors.Contributor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="takedowns",
        help_text="The staff member or moderator who took it down.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "value"], name="takedown_unique_scope_value")
        ]

    def __str__(self) -> str:
        return f"takedown #{self.pk} of {self.get_scope_display()} {self.value}"


class SourceTombstone(models.Model):
    """What stays of a taken-down source: the hashes and URL that refuse it again, nothing of
    its text or citation."""

    takedown = models.ForeignKey(Takedown, on_delete=models.PROTECT, related_name="tombstones")
    former_source_id = models.PositiveBigIntegerField(unique=True)
    sha256 = models.CharField(max_length=64, db_index=True, help_text="Of the normalised text.")
    file_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    url = models.CharField(max_length=2000, blank=True, db_index=True)
    removed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"tombstone of source {self.former_source_id} (takedown #{self.takedown_id})"


class TakedownEvent(models.Model):
    """The takedowns' audit log: each request, each source removed (with counts of what went),
    each refused resubmission."""

    class Action(models.TextChoices):
        REQUESTED = "requested"
        SOURCE_REMOVED = "source_removed"
        RESUBMISSION_REFUSED = "resubmission_refused"

    takedown = models.ForeignKey(Takedown, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=32, choices=Action.choices)
    former_source_id = models.PositiveBigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        "contributors.Contributor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} (takedown #{self.takedown_id})"
