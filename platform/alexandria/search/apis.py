from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from alexandria.contributors.permissions import IsMember
from alexandria.figures.selectors import search_figures
from alexandria.search.querying import ask
from alexandria.search.selectors import matching_source_ids
from alexandria.search.serializers import AskQuerySerializer, AskResultSerializer


class AskApi(APIView):
    """Ask the knowledge base: matching hypotheses (instructions first for how-to questions)
    with arguments pro and contra, related items, instructions, and every item's sources;
    and the figures whose image matches the question."""

    permission_classes = [IsMember]
    # An embedding and maybe a server-side LLM call per request: THROTTLE_ASK, lower.
    throttle_scope = "ask"

    @extend_schema(
        parameters=[AskQuerySerializer],
        responses={
            200: AskResultSerializer,
            400: OpenApiResponse(description="Missing question or a filter out of range."),
        },
    )
    def get(self, request):
        params = AskQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        # An empty set (no source in that language) answers nothing.
        source_ids = matching_source_ids(language=data.get("language", ""))
        result = ask(
            data["q"],
            layer=data.get("layer"),
            min_status=data["min_status"],
            max_age_rating=data.get("max_age_rating"),
            limit=data["limit"],
            summarise=data["summary"],
            source_ids=source_ids,
        )
        if source_ids != frozenset():
            result.figures = search_figures(
                data["q"], max_age_rating=data.get("max_age_rating"), source_ids=source_ids
            )
        return Response(AskResultSerializer(result).data)
