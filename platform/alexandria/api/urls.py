"""Version 1 of the REST API. Each domain adds its routes here."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from alexandria.api.apis import HealthApi, MeApi
from alexandria.jobs.apis import (
    JobsExchangeApi,
    LeaderboardApi,
    LeaseFailApi,
    LeaseHeartbeatApi,
    LeaseJobsApi,
    LeaseSubmitApi,
    NodeListCreateApi,
    NodeMeApi,
    NodeRevokeApi,
    NodeStatusApi,
)
from alexandria.layers.apis import LayerListApi
from alexandria.public.apis import (
    ApiKeyCreateApi,
    PublicGenresApi,
    PublicItemApi,
    PublicKeywordsApi,
    PublicRetrieveApi,
    PublicSearchApi,
    PublicSourceApi,
)
from alexandria.retention.apis import TakedownListCreateApi
from alexandria.reviews.apis import (
    AnswerTaskApi,
    ModerateBanMemberApi,
    ModerateHideItemApi,
    MyReputationApi,
    NextReviewApi,
    ReportListApi,
    ReportRelayedApi,
)
from alexandria.search.apis import AskApi
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
    path("me/reputation", MyReputationApi.as_view(), name="me-reputation"),
    path("sources", SourceListCreateApi.as_view(), name="sources"),
    path("sources/<int:pk>", SourceDetailApi.as_view(), name="source-detail"),
    path("nodes", NodeListCreateApi.as_view(), name="nodes"),
    path("nodes/me", NodeMeApi.as_view(), name="node-me"),
    path("nodes/me/status", NodeStatusApi.as_view(), name="node-status"),
    path("nodes/<int:pk>/revoke", NodeRevokeApi.as_view(), name="node-revoke"),
    path("jobs/lease", LeaseJobsApi.as_view(), name="jobs-lease"),
    path("jobs/exchange", JobsExchangeApi.as_view(), name="jobs-exchange"),
    path("leases/<uuid:lease_id>/heartbeat", LeaseHeartbeatApi.as_view(), name="lease-heartbeat"),
    path("leases/<uuid:lease_id>/submit", LeaseSubmitApi.as_view(), name="lease-submit"),
    path("leases/<uuid:lease_id>/fail", LeaseFailApi.as_view(), name="lease-fail"),
    path("leaderboard", LeaderboardApi.as_view(), name="leaderboard"),
    path("reviews/next", NextReviewApi.as_view(), name="review-next"),
    path("reviews/tasks/<int:pk>/answer", AnswerTaskApi.as_view(), name="review-answer"),
    path("reports", ReportListApi.as_view(), name="reports"),
    path("reports/<int:pk>/relayed", ReportRelayedApi.as_view(), name="report-relayed"),
    path("mod/items/<int:pk>/hide", ModerateHideItemApi.as_view(), name="mod-hide-item"),
    path("mod/members/<str:discord_id>/ban", ModerateBanMemberApi.as_view(), name="mod-ban"),
    path("mod/takedowns", TakedownListCreateApi.as_view(), name="mod-takedowns"),
    path("ask", AskApi.as_view(), name="ask"),
    path("layers", LayerListApi.as_view(), name="layers"),
    path("apikeys", ApiKeyCreateApi.as_view(), name="apikeys"),
    path("public/search", PublicSearchApi.as_view(), name="public-search"),
    path("public/retrieve", PublicRetrieveApi.as_view(), name="public-retrieve"),
    path("public/items/<int:pk>", PublicItemApi.as_view(), name="public-item"),
    path("public/sources/<int:pk>", PublicSourceApi.as_view(), name="public-source"),
    path("public/genres", PublicGenresApi.as_view(), name="public-genres"),
    path("public/keywords", PublicKeywordsApi.as_view(), name="public-keywords"),
]
