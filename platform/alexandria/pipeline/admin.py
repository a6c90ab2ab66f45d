"""Read-only views of what the pipeline derived: source profiles and rejected items."""

from django.contrib import admin

from alexandria.core.admin import ReadOnlyAdminMixin
from alexandria.pipeline.models import RejectedItem, SourceProfile


@admin.register(SourceProfile)
class SourceProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["source", "genre", "category", "age_rating", "reconstruction_fidelity"]
    list_filter = ["age_rating", "genre"]
    search_fields = ["source__title", "genre", "category", "summary"]
    list_select_related = ["source"]


@admin.register(RejectedItem)
class RejectedItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["job", "node", "item_kind", "index", "reason", "created_at"]
    list_filter = ["reason", "item_kind"]
    search_fields = ["message", "job__id"]
    list_select_related = ["job", "node"]
