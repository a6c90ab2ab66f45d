from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from alexandria.core.admin import (
    ActionsOnlyMixin,
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    action_form_page,
    bound_action_form,
)
from alexandria.knowledge.models import Anchor, Entity, Fact, KnowledgeItem, Review
from alexandria.knowledge.services import hide_item, restore_item

ITEM_PREVIEW_CHARS = 120


class HideForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept on the item while it is hidden, and in the admin history.",
    )


class ItemAnchorInline(ReadOnlyTabularInline):
    model = KnowledgeItem.anchors.through
    verbose_name = "anchor"
    verbose_name_plural = "anchors"
    fields = ("fragment", "source", "start", "end", "span_sha256")
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("anchor__source")
            .defer("anchor__source__text")
        )

    @admin.display(description="fragment")
    def fragment(self, obj) -> str:
        return obj.anchor.fragment

    @admin.display(description="source")
    def source(self, obj) -> str:
        return obj.anchor.source.title

    @admin.display(description="start")
    def start(self, obj) -> int:
        return obj.anchor.start

    @admin.display(description="end")
    def end(self, obj) -> int:
        return obj.anchor.end

    @admin.display(description="span sha256")
    def span_sha256(self, obj) -> str:
        return obj.anchor.span_sha256


@admin.register(KnowledgeItem)
class KnowledgeItemAdmin(ActionsOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "layer", "status", "text_preview", "merged_into_id", "created_at")
    list_filter = ("kind", "layer", "status")
    search_fields = ("text",)
    ordering = ("-created_at",)
    show_full_result_count = False
    fields = (
        "kind",
        "layer",
        "status",
        "hidden_reason",
        "text",
        "details",
        "confidence",
        "merged_into",
        "previous_version",
        "derived_from",
        "author",
        "job",
        "prompt_version",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (ItemAnchorInline,)
    actions = ("hide", "restore")

    def has_add_permission(self, request):
        # Items come from analysis jobs and reviews, with their anchors.
        return False

    def has_delete_permission(self, request, obj=None):
        # Hide instead: the item stays on record with the reason.
        return False

    @admin.display(description="text")
    def text_preview(self, obj: KnowledgeItem) -> str:
        if len(obj.text) <= ITEM_PREVIEW_CHARS:
            return obj.text
        return obj.text[:ITEM_PREVIEW_CHARS] + "…"

    @admin.display(description="merged into", ordering="merged_into")
    def merged_into_id(self, obj: KnowledgeItem) -> int | None:
        return obj.merged_into_id

    @admin.action(description="Hide selected items (asks for a reason)", permissions=["change"])
    def hide(self, request, queryset):
        form = bound_action_form(HideForm, request)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                form=form,
                action="hide",
                title="Hide knowledge items",
                submit="Hide",
            )
        reason = form.cleaned_data["reason"]
        hidden = 0
        for item in queryset:
            if hide_item(item, reason):
                self.log_change(request, item, f"Hidden: {reason}")
                hidden += 1
        self.message_user(request, f"Hid {hidden} item(s).", messages.SUCCESS)
        return None

    @admin.action(description="Restore selected hidden items", permissions=["change"])
    def restore(self, request, queryset):
        restored = 0
        for item in queryset:
            if restore_item(item):
                self.log_change(request, item, "Restored (pending review).")
                restored += 1
        self.message_user(request, f"Restored {restored} item(s) to pending.", messages.SUCCESS)


@admin.register(Anchor)
class AnchorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Anchors keep offsets, the span's hash and a few words of its ends, never the span."""

    list_display = ("id", "fragment", "source_title", "start", "end", "span_sha256")
    search_fields = ("text_start", "text_end", "span_sha256")
    readonly_fields = ("source_sha256", "text_fragment_link")
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source").defer("source__text")

    @admin.display(description="source", ordering="source__title")
    def source_title(self, obj: Anchor) -> str:
        return obj.source.title

    @admin.display(description="source sha256")
    def source_sha256(self, obj: Anchor) -> str:
        return obj.source.sha256

    @admin.display(description="link (highlights the span)")
    def text_fragment_link(self, obj: Anchor) -> str:
        link = obj.link
        return format_html('<a href="{}" rel="noopener">{}</a>', link, link) if link else "—"


@admin.register(Entity)
class EntityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "type", "source_title", "canonical", "created_at")
    list_filter = ("type",)
    search_fields = ("name",)
    ordering = ("name",)
    show_full_result_count = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("source", "canonical")
            .defer("source__text")
        )

    @admin.display(description="source", ordering="source__title")
    def source_title(self, obj: Entity) -> str:
        return obj.source.title


@admin.register(Fact)
class FactAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("subject", "predicate", "target", "kind", "source_title", "temporal_id")
    list_filter = ("kind",)
    search_fields = ("subject__name", "predicate", "value", "object_entity__name")
    ordering = ("source", "temporal_id")
    show_full_result_count = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("subject", "object_entity", "source", "anchor", "chunk", "job")
            .defer("source__text")
        )

    @admin.display(description="object / value")
    def target(self, obj: Fact) -> str:
        return str(obj.object_entity) if obj.object_entity else obj.value

    @admin.display(description="source", ordering="source__title")
    def source_title(self, obj: Fact) -> str:
        return obj.source.title


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("item", "reviewer", "verdict", "weight", "created_at")
    list_select_related = ("item", "reviewer__user")
    list_filter = ("verdict",)
    search_fields = ("=item__id", "reviewer__display_name", "^reviewer__discord_id")
    ordering = ("-created_at",)
    show_full_result_count = False
