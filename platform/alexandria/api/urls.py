"""Version 1 of the REST API. Each domain adds its routes here."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from alexandria.api.apis import HealthApi, MeApi
from alexandria.sources.apis import SourceDetailApi, SourceListCreateApi

urlpatterns = [
    path("health", HealthApi.as_view(), name="health"),
    path("schema", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "docs",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[]),
        name="docs",
    ),
    path("me", MeApi.as_view(), name="me"),
    path("sources", SourceListCreateApi.as_view(), name="sources"),
    path("sources/<int:pk>", SourceDetailApi.as_view(), name="source-detail"),
]
