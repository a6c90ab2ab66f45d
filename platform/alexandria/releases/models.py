from django.db import models


class Release(models.Model):
    """A dataset release written to ``path``: a full snapshot or the diff from ``previous``
    (the last release of the same slice). Its files and their checksums are in the manifest,
    whose SHA-256 is kept here so a copy can be checked against the register."""

    class Kind(models.TextChoices):
        FULL = "full", "full snapshot"
        DIFF = "diff", "diff from the previous release"

    release_id = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    slice = models.JSONField(
        default=dict,
        blank=True,
        help_text="The filter (genre, language, domain) and whether pending items are in.",
    )
    path = models.CharField(max_length=1000)
    manifest_sha256 = models.CharField(max_length=64)
    counts = models.JSONField(
        default=dict, blank=True, help_text="Per config: rows, added, updated, deleted."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"release {self.release_id} ({self.kind})"
