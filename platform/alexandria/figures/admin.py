"""Figures in admin: where each is and what its caption says (the anchor's fragment), never the
image (an analysis copy, deleted when the analysis ends); figures whose caption agrees little
with the image (``low_agreement``, as LAION filtered its pairs) can be listed apart."""

from django.contrib import admin
from django.db.models import Exists, OuterRef

from alexandria.core.admin import ReadOnlyTabularInline
from alexandria.figures.models import Figure, FigureEmbedding


class LowAgreementFilter(admin.SimpleListFilter):
    title = "caption agreement"
    parameter_name = "agreement"

    def lookups(self, request, model_admin):
        return (("low", "Low (under the threshold)"), ("ok", "Not low"))

    def queryset(self, request, queryset):
        low = Exists(FigureEmbedding.objects.filter(figure=OuterRef("pk"), low_agreement=True))
        if self.value() == "low":
            return queryset.filter(low)
        if self.value() == "ok":
            return queryset.exclude(low)
        return queryset


class FigureEmbeddingInline(ReadOnlyTabularInline):
    model = FigureEmbedding
    fields = ("model", "dimension", "caption_similarity", "low_agreement", "job", "created_at")
    readonly_fields = fields


@admin.register(Figure)
class FigureAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "index",
        "page",
        "caption",
        "caption_similarity",
        "low_agreement",
        "image_kept",
    )
    list_filter = (LowAgreementFilter, "mime_type")
    list_select_related = ("source", "caption_anchor")
    search_fields = ("sha256", "source__title")
    fields = (
        "source",
        "index",
        "page",
        "bbox",
        "width",
        "height",
        "mime_type",
        "sha256",
        "byte_size",
        "caption",
        "caption_anchor",
        "image_purged_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = (FigureEmbeddingInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("image").prefetch_related("embeddings")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        """A figure goes with its source (a takedown): deleting it alone would strand its
        source's clip job, which cancels the source's analysis."""
        return False

    @admin.display(description="caption")
    def caption(self, figure: Figure) -> str:
        anchor = figure.caption_anchor
        return anchor.fragment if anchor is not None else ""

    @admin.display(description="caption similarity")
    def caption_similarity(self, figure: Figure) -> str:
        return ", ".join(
            f"{e.caption_similarity:.3f}"
            for e in figure.embeddings.all()
            if e.caption_similarity is not None
        )

    @admin.display(boolean=True, description="low agreement")
    def low_agreement(self, figure: Figure) -> bool:
        return any(e.low_agreement for e in figure.embeddings.all())

    @admin.display(boolean=True, description="image kept")
    def image_kept(self, figure: Figure) -> bool:
        return figure.image_purged_at is None
