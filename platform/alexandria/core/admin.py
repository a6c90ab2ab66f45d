"""Building blocks shared by the moderation admins of the domain apps.

Moderators change things through admin actions that call services; what they must not edit
(audit fields, hashes, offsets, ledgers, derived data) is shown read-only.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

ACTION_FORM_TEMPLATE = "admin/action_with_form.html"
# Posted by the intermediate page: the moderator has filled in the action's form.
ACTION_FORM_SUBMITTED = "apply"


class ReadOnlyAdminMixin:
    """Look, don't touch: no adding, changing or deleting, whatever the user's permissions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False


class ActionsOnlyMixin:
    """Objects change only through the admin actions: the change page is view-only.

    Change permission still applies to the changelist, which is what admin actions check.
    """

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)


def bound_action_form(form_class: type[forms.Form], request) -> forms.Form:
    """The action's form, bound only once the intermediate page has been submitted."""
    if ACTION_FORM_SUBMITTED in request.POST:
        return form_class(request.POST)
    return form_class()


def action_form_page(
    modeladmin: admin.ModelAdmin, request, queryset, *, form, action: str, title: str, submit: str
) -> TemplateResponse:
    """The intermediate page of an action that needs input (a reason, a value)."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "objects": list(queryset),
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "submitted_flag": ACTION_FORM_SUBMITTED,
        "submit_label": submit,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)
