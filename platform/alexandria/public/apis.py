"""``/api/v1/public/…``: anonymous reads (a key raises the rate limit), and ``/api/v1/apikeys``
for members to get a key. Thin views over ``public.shaping`` / ``public.selectors``."""

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from alexandria.contributors.identity import acting_contributor
from alexandria.contributors.permissions import IsMember
from alexandria.core.errors import NotFoundError
from alexandria.public import selectors, shaping
from alexandria.public.authentication import ApiKeyAuthentication
from alexandria.public.serializers import (
    AgeQuerySerializer,
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    CountSerializer,
    ItemDetailSerializer,
    PublicSearchSerializer,
    RetrievalSerializer,
    SearchQuerySerializer,
    SourceDetailSerializer,
)
from alexandria.public.services import create_api_key
from alexandria.public.throttles import PublicRateThrottle

SEARCH_MAX_AGE = 60
PERMALINK_MAX_AGE = 300


class PublicApi(APIView):
    """Anyone may read; a key only raises the rate limit. Answers may be cached by anyone."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [PublicRateThrottle]
    max_age = PERMALINK_MAX_AGE

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK:
            patch_cache_control(response, public=True, max_age=self.max_age)
        return response

    def params(self, serializer_class) -> dict:
        params = serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data


class PublicSearchApi(PublicApi):
    """Answers to a question, as /ask gives them: matching hypotheses (instructions first for
    how-to questions) with arguments pro and contra, related items, instructions, every item's
    citations, and (page 1) the figures whose image matches it. Accepted items and age rating
    12 or lower unless asked otherwise."""

    max_age = SEARCH_MAX_AGE

    @extend_schema(
        parameters=[SearchQuerySerializer],
        responses={200: PublicSearchSerializer},
        tags=["public"],
    )
    def get(self, request):
        data = self.params(SearchQuerySerializer)
        result = shaping.search(data)
        body = {
            "query": result.query,
            "page": data["page"],
            "has_more": result.has_more,
            "how_to": result.how_to,
            "results": result.results,
            "figures": result.figures,
        }
        return Response(PublicSearchSerializer(body).data)


class PublicRetrieveApi(PublicApi):
    """Matching items with their citations, nearest first: no arguments, no related items."""

    max_age = SEARCH_MAX_AGE

    @extend_schema(
        parameters=[SearchQuerySerializer],
        responses={200: RetrievalSerializer},
        tags=["public"],
    )
    def get(self, request):
        data = self.params(SearchQuerySerializer)
        result = shaping.retrieval(data)
        body = {
            "query": result.query,
            "page": data["page"],
            "has_more": result.has_more,
            "results": result.results,
        }
        return Response(RetrievalSerializer(body).data)


def _age_refusal(kind: str, pk: int, rating: int) -> NotFoundError:
    return NotFoundError(
        f"{kind} {pk} is rated {rating}+: ask with max_age_rating={rating} to see it.",
        code="age_rating",
    )


class PublicItemApi(PublicApi):
    """An item: text, kind, layer, status, review counts, citations, the items it rests on
    down to their anchors, the items merged into it and the items built on it."""

    @extend_schema(
        parameters=[AgeQuerySerializer],
        responses={200: ItemDetailSerializer, 404: OpenApiResponse(description="Not shown.")},
        tags=["public"],
    )
    def get(self, request, pk: int):
        data = self.params(AgeQuerySerializer)
        found = selectors.public_item(pk, max_age_rating=data["max_age_rating"])
        if found.merged_into is not None:
            raise NotFoundError(
                f"Item {pk} was merged into item {found.merged_into}.", code="merged"
            )
        if found.age_rating is not None:
            raise _age_refusal("Item", pk, found.age_rating)
        if found.detail is None:
            raise NotFoundError(f"No item {pk} is shown.")
        return Response(ItemDetailSerializer(shaping.item_data(found.detail)).data)


class PublicSourceApi(PublicApi):
    """A source that grounds shown items: citation, hashes, profile, age rating with its
    reasons, when its text was purged, the anchors its items cite and those items."""

    @extend_schema(
        parameters=[AgeQuerySerializer],
        responses={200: SourceDetailSerializer, 404: OpenApiResponse(description="Not shown.")},
        tags=["public"],
    )
    def get(self, request, pk: int):
        data = self.params(AgeQuerySerializer)
        found = selectors.public_source(pk, max_age_rating=data["max_age_rating"])
        if found.age_rating is not None:
            raise _age_refusal("Source", pk, found.age_rating)
        if found.detail is None:
            raise NotFoundError(f"No source {pk} is shown.")
        return Response(SourceDetailSerializer(shaping.source_data(found.detail)).data)


class PublicGenresApi(PublicApi):
    """Genres of the shown sources, with how many sources each."""

    @extend_schema(
        parameters=[AgeQuerySerializer],
        responses={200: CountSerializer(many=True)},
        tags=["public"],
    )
    def get(self, request):
        data = self.params(AgeQuerySerializer)
        counts = selectors.genres(max_age_rating=data["max_age_rating"])
        return Response([{"name": name, "sources": n} for name, n in counts])


class PublicKeywordsApi(PublicApi):
    """Keywords of the shown sources, with how many sources each."""

    @extend_schema(
        parameters=[AgeQuerySerializer],
        responses={200: CountSerializer(many=True)},
        tags=["public"],
    )
    def get(self, request):
        data = self.params(AgeQuerySerializer)
        counts = selectors.keywords(max_age_rating=data["max_age_rating"])
        return Response([{"name": name, "sources": n} for name, n in counts])


class ApiKeyCreateApi(APIView):
    """A new public API key for the acting member (``/apikey`` in Discord): shown only in this
    answer. At most five active keys per member."""

    permission_classes = [IsMember]

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={
            201: ApiKeyCreatedSerializer,
            409: OpenApiResponse(description="Too many active keys."),
        },
    )
    def post(self, request):
        params = ApiKeyCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        api_key, key = create_api_key(
            acting_contributor(request), name=params.validated_data["name"]
        )
        body = {
            "id": api_key.pk,
            "name": api_key.name,
            "prefix": api_key.prefix,
            "created_at": api_key.created_at,
            "key": key,
        }
        return Response(ApiKeyCreatedSerializer(body).data, status=status.HTTP_201_CREATED)
