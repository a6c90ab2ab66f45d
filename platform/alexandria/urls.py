from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Alexandria moderation"
admin.site.site_title = "Alexandria"
handler404 = "alexandria.core.error_handler.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(("alexandria.api.urls", "api"), namespace="api")),
]
