from django import forms
from django.contrib import admin, messages

from alexandria.contributors.models import Contributor
from alexandria.contributors.services import ban_contributor, unban_contributor
from alexandria.core.admin import action_form_page, bound_action_form


class BanForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Kept on the member's record and in the admin history.",
    )


@admin.register(Contributor)
class ContributorAdmin(admin.ModelAdmin):
    list_display = ("member", "discord_id", "reputation", "is_banned", "created_at")
    list_select_related = ("user",)
    list_filter = ("is_banned",)
    search_fields = ("user__username", "^discord_id", "display_name")
    ordering = ("-created_at",)
    fields = (
        "user",
        "discord_id",
        "display_name",
        "reputation",
        "is_banned",
        "ban_reason",
        "banned_at",
        "created_at",
    )
    readonly_fields = ("user", "discord_id", "is_banned", "ban_reason", "banned_at", "created_at")
    actions = ("ban", "unban")

    def has_add_permission(self, request):
        # Members appear through the bot (or a staff login), never by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting would take the member's nodes, reviews and credit ledger with it: ban instead.
        return False

    @admin.display(description="display name", ordering="display_name")
    def member(self, obj: Contributor) -> str:
        return str(obj)

    @admin.action(description="Ban selected members (asks for a reason)", permissions=["change"])
    def ban(self, request, queryset):
        form = bound_action_form(BanForm, request)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                form=form,
                action="ban",
                title="Ban members",
                submit="Ban",
            )
        reason = form.cleaned_data["reason"]
        banned = 0
        for contributor in queryset:
            if contributor.is_banned:
                continue
            ban_contributor(contributor, reason=reason)
            self.log_change(request, contributor, f"Banned: {reason}")
            banned += 1
        self.message_user(request, f"Banned {banned} member(s).", messages.SUCCESS)
        if banned < len(queryset):
            self.message_user(
                request,
                f"{len(queryset) - banned} were already banned and kept their original ban.",
                messages.WARNING,
            )
        return None

    @admin.action(description="Unban selected members", permissions=["change"])
    def unban(self, request, queryset):
        unbanned = 0
        for contributor in queryset.filter(is_banned=True):
            unban_contributor(contributor)
            self.log_change(request, contributor, "Unbanned.")
            unbanned += 1
        self.message_user(request, f"Unbanned {unbanned} member(s).", messages.SUCCESS)
