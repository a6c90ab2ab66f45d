from django.contrib import admin, messages

from alexandria.core.admin import ActionsOnlyMixin, ReadOnlyAdminMixin
from alexandria.reviews.models import (
    EditProposal,
    GoldItem,
    Report,
    ReputationEvent,
    ReviewTask,
    Settlement,
)
from alexandria.reviews.services import EditRefused, accept_edit


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    """Planted statements with a known verdict (create their items hidden, then plant them)."""

    list_display = ("id", "item", "expected_verdict", "created_at")
    list_filter = ("expected_verdict",)
    raw_id_fields = ("item",)


@admin.register(EditProposal)
class EditProposalAdmin(ActionsOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "item_id", "status", "text", "proposer", "created_at")
    list_filter = ("status",)
    search_fields = ("text",)
    fields = ("item", "proposer", "text", "status", "endorsers", "new_version", "decided_at")
    readonly_fields = fields
    actions = ("approve",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve selected edits (each becomes a new version)")
    def approve(self, request, queryset):
        for proposal in queryset:
            try:
                new_version = accept_edit(proposal)
            except EditRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            self.log_change(request, proposal, f"Approved: new item #{new_version.pk}")
            self.message_user(
                request, f"Edit #{proposal.pk} is now item #{new_version.pk}.", messages.SUCCESS
            )


@admin.register(Report)
class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "item", "reporter", "comment", "created_at", "relayed_at")


@admin.register(ReviewTask)
class ReviewTaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "item_id", "contributor", "verdict", "created_at", "answered_at")
    list_filter = ("verdict",)


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "item",
        "outcome",
        "supported_weight",
        "not_supported_weight",
        "unclear_weight",
        "settled_at",
    )


@admin.register(ReputationEvent)
class ReputationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("contributor", "delta", "reputation_after", "reason", "created_at")
    search_fields = ("contributor__display_name", "contributor__discord_id")
