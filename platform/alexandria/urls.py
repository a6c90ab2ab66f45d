from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

admin.site.site_header = "Alexandria moderation"
admin.site.site_title = "Alexandria"
handler404 = "alexandria.core.error_handler.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(("alexandria.api.urls", "api"), namespace="api")),
    path("", include("alexandria.public.urls")),
]
if settings.DEBUG:
    # Dataset releases; in production the TLS proxy serves RELEASES_ROOT (docker/README.md).
    urlpatterns.insert(
        0,
        re_path(
            r"^releases/(?P<path>.*)$",
            serve,
            {"document_root": settings.RELEASES_ROOT, "show_indexes": True},
        ),
    )
