"""Takedowns for staff and moderators: ``/mod/takedowns``."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from alexandria.contributors.identity import acting_contributor
from alexandria.core.parsers import StrictUtf8JSONParser
from alexandria.retention.permissions import IsStaffOrModerator
from alexandria.retention.serializers import (
    TakedownOutcomeSerializer,
    TakedownRequestSerializer,
    TakedownSerializer,
)
from alexandria.retention.takedowns import take_down
from alexandria.sources.models import Takedown


class TakedownListCreateApi(generics.ListAPIView):
    """Take sources down (by id, URL, URL prefix, domain or SHA-256), or read the register."""

    permission_classes = [IsStaffOrModerator]
    parser_classes = [StrictUtf8JSONParser]
    serializer_class = TakedownSerializer
    queryset = Takedown.objects.select_related("requested_by__user").prefetch_related("tombstones")

    @extend_schema(
        request=TakedownRequestSerializer,
        responses={
            201: TakedownOutcomeSerializer,
            200: OpenApiResponse(
                TakedownOutcomeSerializer, "Taken down before: applied again to what it covers."
            ),
            400: OpenApiResponse(
                description="Unknown scope, a value that names nothing, or no reason."
            ),
            403: OpenApiResponse(description="Not staff or a moderator."),
            404: OpenApiResponse(description="No such source (scope source)."),
        },
    )
    def post(self, request):
        serializer = TakedownRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = take_down(
            serializer.validated_data["scope"],
            serializer.validated_data["value"],
            reason=serializer.validated_data["reason"],
            by=acting_contributor(request),
        )
        takedown = self.get_queryset().get(pk=outcome.takedown.pk)
        body = TakedownOutcomeSerializer(
            {
                "takedown": takedown,
                "created": outcome.created,
                "removed_now": outcome.removed_sources,
                "items_withdrawn": outcome.items_withdrawn,
            }
        ).data
        return Response(body, status=status.HTTP_201_CREATED if outcome.created else 200)
