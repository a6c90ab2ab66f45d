"""Figures: images found in a source, their captions and their CLIP embeddings.

The image bytes are an analysis copy like the source's text: kept only until the analysis
ends, then deleted (``image`` emptied, ``image_purged_at`` set). What stays is the image's
SHA-256, size, page and position, the caption's anchor (offsets and a short quote, like any
anchor) and the embeddings, which PostgreSQL keeps as the truth the figure index is rebuilt
from.
"""

from django.db import models


class Figure(models.Model):
    source = models.ForeignKey("sources.Source", on_delete=models.CASCADE, related_name="figures")
    index = models.PositiveIntegerField(help_text="Position among the source's figures, from 0.")
    page = models.PositiveIntegerField(
        null=True, blank=True, help_text="1-based PDF page; empty for other formats."
    )
    bbox = models.JSONField(
        null=True,
        blank=True,
        help_text="[x0, y0, x1, y1] on the page in PDF points (origin bottom left).",
    )
    width = models.PositiveIntegerField(help_text="Pixels.")
    height = models.PositiveIntegerField(help_text="Pixels.")
    mime_type = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the image.")
    byte_size = models.PositiveIntegerField()
    image = models.BinaryField(
        null=True, blank=True, editable=False, help_text="Analysis copy; deleted with the text."
    )
    image_purged_at = models.DateTimeField(null=True, blank=True)
    caption_anchor = models.ForeignKey(
        "knowledge.Anchor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="captioned_figures",
        help_text="Where the caption is in the source's text.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["source", "index"], name="figure_unique_index"),
            models.CheckConstraint(
                condition=models.Q(image__isnull=True) | models.Q(image_purged_at__isnull=True),
                name="figure_purged_has_no_image",
            ),
        ]

    def __str__(self) -> str:
        where = f" p. {self.page}" if self.page else ""
        return f"figure {self.index + 1} of source {self.source_id}{where}"

    @property
    def is_purged(self) -> bool:
        return self.image_purged_at is not None


class FigureEmbedding(models.Model):
    """A figure's CLIP image embedding by one model, and how well its caption agrees."""

    figure = models.ForeignKey(Figure, on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(
        max_length=200, help_text="open_clip model and weights, e.g. ViT-B-32/laion2b_s34b_b79k."
    )
    dimension = models.PositiveSmallIntegerField()
    vector = models.BinaryField(help_text="float32, little-endian, unit length.")
    caption_similarity = models.FloatField(
        null=True, blank=True, help_text="Cosine of image and caption (LAION-5B style)."
    )
    low_agreement = models.BooleanField(
        default=False, db_index=True, help_text="Caption similarity under the threshold."
    )
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["figure", "model"], name="figure_embedding_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.figure} by {self.model}"
