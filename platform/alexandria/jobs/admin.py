import json

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from alexandria.core.admin import (
    ActionsOnlyMixin,
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    action_form_page,
    bound_action_form,
)
from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.moderation import set_node_trust, unflag_node
from alexandria.jobs.services.lifecycle import TRIMMED, cancel_job, requeue_job
from alexandria.jobs.services.nodes import revoke_node


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return (("yes", "Revoked"), ("no", "Active"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


class TrustForm(forms.Form):
    trust = forms.FloatField(
        min_value=0,
        max_value=1,
        help_text="0 = new/untrusted (always replicated) … 1 = fully trusted.",
    )


@admin.register(WorkerNode)
class WorkerNodeAdmin(ActionsOnlyMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "owner",
        "trust",
        "valid_results",
        "invalid_results",
        "releases",
        "paused",
        "reported",
        "is_flagged",
        "revoked",
        "last_seen_at",
    )
    list_select_related = ("owner__user",)
    list_filter = (RevokedFilter, "is_flagged")
    search_fields = (
        "name",
        "^token_prefix",
        "owner__display_name",
        "^owner__discord_id",
        "owner__user__username",
    )
    ordering = ("-created_at",)
    # The token hash is never shown; the prefix is enough to recognise a token.
    fields = (
        "name",
        "owner",
        "token_prefix",
        "capabilities",
        "trust",
        "valid_results",
        "invalid_results",
        "rejected_facts",
        "releases",
        "paused_until",
        "pause_reason",
        "reported_state",
        "reported_reason",
        "reported_at",
        "is_flagged",
        "flag_reason",
        "revoked_at",
        "last_seen_at",
        "created_at",
    )
    readonly_fields = fields
    actions = ("revoke_token", "set_trust", "unflag")

    def has_add_permission(self, request):
        # Nodes register through the API, which shows their token once.
        return False

    def has_delete_permission(self, request, obj=None):
        # Results, leases and credit refer to the node: revoke its token instead.
        return False

    @admin.display(description="paused by the server", ordering="paused_until")
    def paused(self, obj: WorkerNode) -> str:
        """Why the server refuses it leases (it gave back too many), while it does."""
        if obj.paused_until is None or obj.paused_until <= timezone.now():
            return ""
        return obj.pause_reason

    @admin.display(description="node says", ordering="reported_at")
    def reported(self, obj: WorkerNode) -> str:
        if not obj.reported_state:
            return ""
        reason = f": {obj.reported_reason}" if obj.reported_reason else ""
        return f"{obj.reported_state}{reason}"

    @admin.display(description="revoked", boolean=True, ordering="revoked_at")
    def revoked(self, obj: WorkerNode) -> bool:
        return obj.is_revoked

    @admin.action(description="Revoke the token of selected nodes", permissions=["change"])
    def revoke_token(self, request, queryset):
        revoked = 0
        for node in queryset:
            if node.is_revoked:
                continue
            revoke_node(node)
            self.log_change(request, node, "Revoked the token.")
            revoked += 1
        self.message_user(request, f"Revoked {revoked} node token(s).", messages.SUCCESS)

    @admin.action(
        description="Set trust of selected nodes (asks for a value)", permissions=["change"]
    )
    def set_trust(self, request, queryset):
        form = bound_action_form(TrustForm, request)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                form=form,
                action="set_trust",
                title="Set node trust",
                submit="Set trust",
            )
        trust = form.cleaned_data["trust"]
        for node in queryset:
            set_node_trust(node, trust)
            self.log_change(request, node, f"Set trust to {trust}.")
        self.message_user(
            request, f"Set the trust of {len(queryset)} node(s) to {trust}.", messages.SUCCESS
        )
        return None

    @admin.action(description="Unflag selected nodes", permissions=["change"])
    def unflag(self, request, queryset):
        flagged = list(queryset.filter(is_flagged=True))
        for node in flagged:
            unflag_node(node)
            self.log_change(request, node, "Unflagged.")
        self.message_user(request, f"Unflagged {len(flagged)} node(s).", messages.SUCCESS)


class JobEventInline(ReadOnlyTabularInline):
    model = JobEvent
    fields = ("kind", "node", "message", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("node__owner__user")


class LeaseInline(ReadOnlyTabularInline):
    model = Lease
    fields = ("id", "node", "state", "leased_at", "expires_at", "ended_at")
    readonly_fields = fields
    ordering = ("leased_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("node__owner__user")


class JobResultInline(ReadOnlyTabularInline):
    model = JobResult
    fields = (
        "result",
        "node",
        "status",
        "rejection_reasons",
        "output_sha256",
        "created_at",
        "validated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("node__owner__user")

    @admin.display(description="result")
    def result(self, obj: JobResult) -> str:
        return f"#{obj.pk}"


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "priority",
        "attempts_of_max",
        "releases",
        "lease_owner_name",
        "lease_expires_at",
        "source_title",
        "created_at",
    )
    list_select_related = ("lease_owner", "source")
    list_filter = ("status", "kind")
    search_fields = ("=id", "kind")
    ordering = ("-id",)
    show_full_result_count = False
    fields = (
        "kind",
        "kind_version",
        "status",
        "priority",
        "attempts",
        "max_attempts",
        "releases",
        "lease_owner",
        "lease_expires_at",
        "source",
        "replica_of",
        "size_hint",
        "payload",
        "created_at",
        "updated_at",
        "finished_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("priority", "max_attempts"))
    inlines = (JobEventInline, LeaseInline, JobResultInline)
    actions = ("requeue", "cancel")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("lease_owner__owner__user", "source")
            .defer("source__text")
        )

    def has_add_permission(self, request):
        # Jobs are created by the pipeline, with payloads it builds.
        return False

    def has_delete_permission(self, request, obj=None):
        # Results, credit and extracted knowledge refer to the job: cancel it instead.
        return False

    @admin.display(description="attempts")
    def attempts_of_max(self, obj: Job) -> str:
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description="lease owner", ordering="lease_owner__name")
    def lease_owner_name(self, obj: Job) -> str | None:
        return obj.lease_owner.name if obj.lease_owner else None

    @admin.display(description="source", ordering="source__title")
    def source_title(self, obj: Job) -> str | None:
        return obj.source.title if obj.source else None

    def _apply(self, request, queryset, operation, verb: str, allowed: str) -> None:
        done = 0
        for job in queryset:
            if not operation(job, reason=f"{verb} by moderator {request.user}"):
                self.message_user(
                    request,
                    f"Job #{job.pk} is {job.status}; only {allowed} jobs can be {verb}.",
                    messages.WARNING,
                )
                continue
            self.log_change(request, job, f"{verb.capitalize()}.")
            done += 1
        self.message_user(request, f"{verb.capitalize()} {done} job(s).", messages.SUCCESS)

    @admin.action(description="Requeue selected jobs", permissions=["change"])
    def requeue(self, request, queryset):
        self._apply(
            request,
            queryset,
            requeue_job,
            "requeued",
            "failed or cancelled, and still about a source that holds its text (not purged or "
            "taken down)",
        )

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel(self, request, queryset):
        self._apply(request, queryset, cancel_job, "cancelled", "queued, leased or validating")


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("contributor", "amount", "basis", "reason", "node", "job", "created_at")
    list_select_related = ("contributor__user", "node__owner__user", "job")
    list_filter = ("basis",)
    search_fields = ("contributor__display_name", "^contributor__discord_id", "reason", "=job__id")
    ordering = ("-created_at",)
    show_full_result_count = False


@admin.register(JobResult)
class JobResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Results as they are kept, for looking into invalid ones: once its job is decided (or
    the result rejected) an output is trimmed of what quotes the source, and until then the
    output of a job about a source is not shown (copyright retention)."""

    list_display = ("id", "job", "node", "status", "created_at", "validated_at")
    list_select_related = ("job", "node__owner__user")
    list_filter = ("status",)
    search_fields = ("=job__id", "node__name", "^output_sha256")
    ordering = ("-created_at",)
    show_full_result_count = False
    fields = (
        "job",
        "node",
        "lease",
        "status",
        "rejection_reasons",
        "kept_output",
        "output_sha256",
        "stats",
        "created_at",
        "validated_at",
    )
    readonly_fields = fields

    @admin.display(description="output")
    def kept_output(self, obj: JobResult):
        if obj.job.source_id is not None and TRIMMED not in obj.output:
            return "(shown once the job is decided: until then it may quote the source)"
        return json.dumps(obj.output, ensure_ascii=False, indent=1)
