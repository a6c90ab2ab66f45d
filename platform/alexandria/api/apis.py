from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from alexandria.api.health import service_health
from alexandria.contributors.identity import acting_contributor
from alexandria.contributors.permissions import IsMember

# Each check is answered outside production only (see HealthApi).
_check = inline_serializer(
    "ServiceCheck",
    {
        "ok": serializers.BooleanField(),
        "detail": serializers.CharField(required=False),
        "error": serializers.CharField(required=False),
        "ms": serializers.FloatField(required=False),
    },
    required=False,
)


class HealthApi(APIView):
    """Public: is the database, the broker and Chroma reachable? 503 when any is not. In
    production the answer is the status alone: which database, broker and paths serve
    Alexandria is nothing an anonymous caller needs (the logs and the admin have them)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []  # load balancers' probes

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.ChoiceField(choices=["ok", "degraded"]),
                    "database": _check,
                    "broker": _check,
                    "chroma": _check,
                },
            ),
            503: OpenApiResponse(description="A dependency is unreachable (same body)."),
        }
    )
    def get(self, request):
        report = service_health()
        code = 200 if report["status"] == "ok" else 503
        if settings.PRODUCTION:
            return Response({"status": report["status"]}, status=code)
        return Response(report, status=code)


class MeApi(APIView):
    """The acting member: reputation and ban state."""

    permission_classes = [IsMember]

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "discord_id": serializers.CharField(allow_null=True),
                "display_name": serializers.CharField(),
                "reputation": serializers.FloatField(),
                "is_banned": serializers.BooleanField(),
            },
        )
    )
    def get(self, request):
        contributor = acting_contributor(request)
        return Response(
            {
                "id": contributor.pk,
                "discord_id": contributor.discord_id,
                "display_name": str(contributor),
                "reputation": contributor.reputation,
                "is_banned": contributor.is_banned,
            }
        )
