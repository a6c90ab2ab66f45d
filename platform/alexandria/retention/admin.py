"""The takedown register in the admin (read-only, plus a form for new takedowns), and the
"Take down…" action the retention app adds to the sources admin (sources can't import it)."""

from django import forms
from django.contrib import admin, messages

from alexandria.contributors.services import contributor_for_user
from alexandria.core.admin import (
    ReadOnlyTabularInline,
    action_form_page,
    bound_action_form,
)
from alexandria.core.errors import AlexandriaError
from alexandria.retention.takedowns import TakedownRefused, normalised_value, take_down
from alexandria.sources.models import Source, SourceTombstone, Takedown, TakedownEvent

REASON_WIDGET = forms.Textarea(attrs={"rows": 3, "cols": 60})


class TakedownReasonForm(forms.Form):
    reason = forms.CharField(
        widget=REASON_WIDGET,
        max_length=2000,
        help_text="Kept in the takedown register (e.g. the rights holder's request).",
    )


class NewTakedownForm(forms.ModelForm):
    """A takedown by URL, prefix, domain or hash (by source: the sources' action)."""

    class Meta:
        model = Takedown
        fields = ("scope", "value", "reason")
        widgets = {"reason": REASON_WIDGET}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") and cleaned.get("value"):
            try:
                cleaned["value"] = normalised_value(cleaned["scope"], cleaned["value"])
            except TakedownRefused as exc:
                self.add_error("value", str(exc))
        return cleaned


class TombstoneInline(ReadOnlyTabularInline):
    model = SourceTombstone
    fields = ("former_source_id", "url", "sha256", "file_sha256", "removed_at")
    readonly_fields = fields


class TakedownEventInline(ReadOnlyTabularInline):
    model = TakedownEvent
    fields = ("created_at", "action", "former_source_id", "counts", "actor", "message")
    readonly_fields = fields


@admin.register(Takedown)
class TakedownAdmin(admin.ModelAdmin):
    """The register: what was taken down, why, by whom, and what each takedown removed."""

    form = NewTakedownForm
    list_display = ("id", "scope", "value", "requested_by", "removed", "created_at")
    list_filter = ("scope",)
    list_select_related = ("requested_by__user",)
    search_fields = ("value", "reason", "=tombstones__former_source_id", "^tombstones__sha256")
    inlines = (TombstoneInline, TakedownEventInline)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tombstones")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("scope", "value", "reason")
        return ("scope", "value", "reason", "requested_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="sources removed")
    def removed(self, obj: Takedown) -> int:
        return len(obj.tombstones.all())

    def save_model(self, request, obj, form, change):
        outcome = take_down(
            obj.scope, obj.value, reason=obj.reason, by=contributor_for_user(request.user)
        )
        obj.pk = outcome.takedown.pk
        self.message_user(request, _summary(outcome), messages.SUCCESS)


def _summary(outcome) -> str:
    state = "registered" if outcome.created else "applied again"
    return (
        f"Takedown #{outcome.takedown.pk} {state}: {len(outcome.removed_sources)} source(s) "
        f"removed, {outcome.items_withdrawn} item(s) withdrawn."
    )


@admin.action(description="Take down selected sources (asks for a reason)", permissions=["change"])
def take_down_sources(modeladmin, request, queryset):
    """Each selected source gets a takedown of its own (scope: source id)."""
    form = bound_action_form(TakedownReasonForm, request)
    if not form.is_valid():
        return action_form_page(
            modeladmin,
            request,
            queryset,
            form=form,
            action="take_down_sources",
            title="Take down sources: text, anchors, jobs and evidence go for good",
            submit="Take down",
        )
    by = contributor_for_user(request.user)
    for source_id in queryset.values_list("pk", flat=True):
        try:
            outcome = take_down(
                Takedown.Scope.SOURCE,
                str(source_id),
                reason=form.cleaned_data["reason"],
                by=by,
            )
        except AlexandriaError as exc:
            modeladmin.message_user(request, f"Source #{source_id}: {exc}", messages.WARNING)
            continue
        modeladmin.message_user(request, _summary(outcome), messages.SUCCESS)
    return None


source_admin = admin.site.get_model_admin(Source)
source_admin.actions = (*source_admin.actions, take_down_sources)
