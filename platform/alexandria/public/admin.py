from django import forms
from django.contrib import admin, messages

from alexandria.core.errors import ConflictError
from alexandria.public.models import ApiKey
from alexandria.public.services import create_api_key, ensure_key_allowed, revoke_api_key


class ApiKeyForm(forms.ModelForm):
    """Refuses a key beyond the owner's active-key limit as a form error, not a server error."""

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get("owner")
        if self.instance.pk is None and owner is not None:
            try:
                ensure_key_allowed(owner)
            except ConflictError as refused:
                raise forms.ValidationError(str(refused)) from refused
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Staff create a key for a member here; the key is shown once, in the confirmation."""

    form = ApiKeyForm
    list_display = ("prefix", "name", "owner", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "owner__display_name", "owner__discord_id")
    raw_id_fields = ("owner",)
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ("owner", "name") if obj is None else self.get_readonly_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("owner", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            return
        api_key, key = create_api_key(obj.owner, name=obj.name)
        obj.pk, obj.prefix, obj.created_at = api_key.pk, api_key.prefix, api_key.created_at
        messages.warning(request, f"The new API key (shown only now, keep it secret): {key}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            revoke_api_key(api_key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")
