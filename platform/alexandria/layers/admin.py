from django import forms
from django.contrib import admin, messages

from alexandria.core.admin import (
    ActionsOnlyMixin,
    ReadOnlyAdminMixin,
    action_form_page,
    bound_action_form,
)
from alexandria.layers.models import (
    LayerBuild,
    MergeRecord,
    MergeVerification,
    NodeAbstraction,
    UsefulnessVerdict,
)
from alexandria.layers.selectors import layer_progress
from alexandria.layers.services.abstraction import stop_layer_build
from alexandria.layers.services.merging import split_merge

PREVIEW_CHARS = 80


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept on the record and in the admin history.",
    )


@admin.register(MergeRecord)
class MergeRecordAdmin(ActionsOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "merged_text",
        "canonical_text",
        "similarity",
        "method",
        "created_at",
        "split_at",
    )
    list_filter = ("method", ("split_at", admin.EmptyFieldListFilter))
    search_fields = ("=canonical__id", "=merged__id", "canonical__text", "merged__text")
    list_select_related = ("canonical", "merged")
    ordering = ("-created_at",)
    show_full_result_count = False
    fields = (
        "canonical",
        "merged",
        "similarity",
        "method",
        "job",
        "added_anchors",
        "added_derived_from",
        "created_at",
        "split_at",
        "split_reason",
    )
    readonly_fields = fields
    actions = ("split",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="merged item")
    def merged_text(self, obj: MergeRecord) -> str:
        return f"#{obj.merged_id} {_preview(obj.merged.text)}"

    @admin.display(description="canonical item")
    def canonical_text(self, obj: MergeRecord) -> str:
        return f"#{obj.canonical_id} {_preview(obj.canonical.text)}"

    @admin.action(description="Split selected merges (asks for a reason)", permissions=["change"])
    def split(self, request, queryset):
        form = bound_action_form(ReasonForm, request)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                form=form,
                action="split",
                title="Split merges",
                submit="Split",
            )
        reason = form.cleaned_data["reason"]
        done = 0
        for record in queryset:
            if split_merge(record, reason=reason):
                self.log_change(request, record, f"Split: {reason}")
                done += 1
        self.message_user(request, f"Split {done} merge(s).", messages.SUCCESS)
        return None


@admin.register(MergeVerification)
class MergeVerificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "candidate_id",
        "canonical_id",
        "similarity",
        "same_meaning",
        "job",
        "decided_at",
    )
    list_filter = ("same_meaning",)
    search_fields = ("=canonical__id", "=candidate__id")
    ordering = ("-created_at",)
    show_full_result_count = False


@admin.register(NodeAbstraction)
class NodeAbstractionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("node_id", "layer", "phase", "items_created", "dropped_not_novel", "updated_at")
    list_filter = ("layer", "phase")
    search_fields = ("=node__id",)
    ordering = ("-updated_at",)
    show_full_result_count = False


@admin.register(UsefulnessVerdict)
class UsefulnessVerdictAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The judge_usefulness verdicts on new abstraction items (none yet: awaiting the job)."""

    list_display = ("item_id", "item_text", "useful", "reason", "decided_at")
    list_filter = ("useful", "item__layer")
    search_fields = ("=item__id",)
    list_select_related = ("item",)
    ordering = ("-item_id",)
    show_full_result_count = False

    @admin.display(description="item")
    def item_text(self, obj: UsefulnessVerdict) -> str:
        return _preview(obj.item.text)


@admin.register(LayerBuild)
class LayerBuildAdmin(ActionsOnlyMixin, admin.ModelAdmin):
    """Each layer's build with live progress (items, merges, pending jobs)."""

    list_display = (
        "layer",
        "status",
        "items",
        "merged",
        "pending_jobs",
        "nodes_below_abstracted",
        "items_created",
        "judged_useless",
        "dropped_not_novel",
        "stop_reason",
        "updated_at",
    )
    fields = (
        "layer",
        "status",
        "stop_reason",
        "items_created",
        "judged_useful",
        "judged_useless",
        "dropped_not_novel",
        "started_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("stop",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        self._progress = {row.layer: row for row in layer_progress()}
        return super().changelist_view(request, extra_context)

    def _row(self, obj: LayerBuild):
        return getattr(self, "_progress", {}).get(obj.layer)

    @admin.display(description="items")
    def items(self, obj: LayerBuild) -> int:
        row = self._row(obj)
        return row.items if row else 0

    @admin.display(description="merged")
    def merged(self, obj: LayerBuild) -> int:
        row = self._row(obj)
        return row.merged if row else 0

    @admin.display(description="pending jobs")
    def pending_jobs(self, obj: LayerBuild) -> str:
        below, own = self._progress_of(obj.layer - 1), self._row(obj)
        abstract = below.pending_jobs["abstract"] if below else 0
        verify = own.pending_jobs["verify_merge"] if own else 0
        return f"{abstract} abstract, {verify} verify_merge"

    @admin.display(description="nodes below abstracted")
    def nodes_below_abstracted(self, obj: LayerBuild) -> str:
        below = self._progress_of(obj.layer - 1)
        if not below:
            return "0"
        return f"{below.nodes_abstracted} done, {below.nodes_in_progress} in progress"

    def _progress_of(self, layer: int):
        return getattr(self, "_progress", {}).get(layer)

    @admin.action(
        description="Stop building selected layers (asks for a reason)", permissions=["change"]
    )
    def stop(self, request, queryset):
        form = bound_action_form(ReasonForm, request)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                form=form,
                action="stop",
                title="Stop layer builds",
                submit="Stop",
            )
        for build in queryset:
            stop_layer_build(build, form.cleaned_data["reason"])
            self.log_change(request, build, f"Stopped: {form.cleaned_data['reason']}")
        self.message_user(request, f"Stopped {queryset.count()} layer build(s).", messages.SUCCESS)
        return None
