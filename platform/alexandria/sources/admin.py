from django.contrib import admin, messages
from django.db import models
from django.db.models.functions import Left

from alexandria.core.admin import ReadOnlyTabularInline
from alexandria.core.errors import AlexandriaError
from alexandria.sources.models import Chunk, Source
from alexandria.sources.recovery import retry_source, stuck_sources
from alexandria.sources.services import purge_source_text

TEXT_PREVIEW_CHARS = 1000


class TextPurgedFilter(admin.SimpleListFilter):
    title = "text purged"
    parameter_name = "purged"

    def lookups(self, request, model_admin):
        return (("yes", "Purged"), ("no", "Text retained"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(text_purged_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(text_purged_at__isnull=True)
        return queryset


class StuckFilter(admin.SimpleListFilter):
    """Sources that need a moderator: failed, or stuck in a stage a worker should finish."""

    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return (("stuck", "Stuck"), ("failed", "Failed"), ("either", "Stuck or failed"))

    def queryset(self, request, queryset):
        stuck = models.Q(pk__in=stuck_sources().values("pk"))
        failed = models.Q(status=Source.Status.FAILED)
        chosen = {"stuck": stuck, "failed": failed, "either": stuck | failed}.get(self.value())
        return queryset if chosen is None else queryset.filter(chosen)


class ChunkInline(ReadOnlyTabularInline):
    model = Chunk
    fields = ("index", "start", "end")
    readonly_fields = fields
    classes = ("collapse",)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "status",
        "format",
        "char_count",
        "submitted_by",
        "text_retained",
        "created_at",
    )
    list_select_related = ("submitted_by__user",)
    list_filter = (StuckFilter, "status", "format", TextPurgedFilter)
    search_fields = ("title", "url", "^sha256", "doi")
    ordering = ("-created_at",)
    fieldsets = (
        ("Citation", {"fields": ("title", "authors", "url", "doi", "licence_note", "language")}),
        (
            "Processing",
            {
                "fields": (
                    "status",
                    "failure_reason",
                    "attempts",
                    "format",
                    "submitted_by",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        (
            "Text",
            {"fields": ("sha256", "char_count", "byte_size", "text_purged_at", "text_preview")},
        ),
    )
    readonly_fields = (
        "status",
        "failure_reason",
        "attempts",
        "format",
        "submitted_by",
        "created_at",
        "updated_at",
        "sha256",
        "char_count",
        "byte_size",
        "text_purged_at",
        "text_preview",
    )
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = (ChunkInline,)
    actions = ("purge_text", "requeue_analysis")

    def get_queryset(self, request):
        # The full text can be megabytes; only the preview reads (the start of) it.
        return super().get_queryset(request).defer("text")

    def has_add_permission(self, request):
        # Sources come in through submission (normalisation, hashing, chunking), not by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        # Anchors, facts and jobs hang off a source; removing its text is what "purge" is for.
        return False

    @admin.display(description="text retained?", boolean=True, ordering="text_purged_at")
    def text_retained(self, obj: Source) -> bool:
        return not obj.is_purged

    @admin.display(description=f"text (first {TEXT_PREVIEW_CHARS:,} characters)")
    def text_preview(self, obj: Source) -> str:
        if obj.is_purged:
            return "(purged)"
        head = (
            Source.objects.filter(pk=obj.pk)
            .annotate(head=Left("text", TEXT_PREVIEW_CHARS))
            .values_list("head", flat=True)
            .get()
        )
        remaining = obj.char_count - len(head)
        return f"{head} … ({remaining:,} more characters)" if remaining > 0 else head

    @admin.action(description="Purge the text of selected sources", permissions=["change"])
    def purge_text(self, request, queryset):
        purged = 0
        for source in queryset:
            try:
                if not purge_source_text(source):
                    continue
            except AlexandriaError as exc:
                self.message_user(request, f"{source}: {exc}", messages.WARNING)
                continue
            self.log_change(request, source, "Purged the text.")
            purged += 1
        self.message_user(request, f"Purged the text of {purged} source(s).", messages.SUCCESS)

    @admin.action(description="Retry selected (failed or stuck) sources", permissions=["change"])
    def requeue_analysis(self, request, queryset):
        requeued = 0
        for source in queryset:
            try:
                retry_source(source)
            except AlexandriaError as exc:
                self.message_user(request, f"{source}: {exc}", messages.WARNING)
                continue
            self.log_change(request, source, f"Retried (now {source.status}).")
            requeued += 1
        self.message_user(request, f"Retried {requeued} source(s).", messages.SUCCESS)
