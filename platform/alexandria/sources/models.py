from django.db import models


class Source(models.Model):
    """A submitted text. Offsets everywhere refer to its normalised text (hash in ``sha256``).

    The full text is kept only while it is being analysed and purged afterwards; the citation,
    hash and anchors stay.
    """

    class Status(models.TextChoices):
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
    sha256 = models.CharField(max_length=64, unique=True)
    char_count = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    submitted_by = models.ForeignKey(
        "contributors.Contributor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sources",
    )
    text = models.TextField(blank=True, help_text="Normalised full text; purged after analysis.")
    text_purged_at = models.DateTimeField(null=True, blank=True)
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
