from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from alexandria.contributors.identity import acting_contributor
from alexandria.contributors.permissions import IsMember
from alexandria.core.errors import ConflictError, TooLargeError
from alexandria.core.parsers import StrictUtf8JSONParser
from alexandria.core.throttles import DEFAULT_SCOPE
from alexandria.sources import selectors, services
from alexandria.sources.serializers import (
    SourceSerializer,
    SubmissionResultSerializer,
    SubmitTextSerializer,
)

# JSON escaping can grow a text up to six-fold (\uXXXX); anything beyond is refused unread.
MAX_BODY_FACTOR = 6


class SourceListCreateApi(generics.ListAPIView):
    """Submit a text (JSON or a multipart file upload), or list the sources you submitted."""

    permission_classes = [IsMember]
    serializer_class = SourceSerializer
    parser_classes = [StrictUtf8JSONParser, MultiPartParser, FormParser]
    throttle_classes = [ScopedRateThrottle]

    @property
    def throttle_scope(self) -> str:
        """Submitting has its own, lower limit; listing the member's sources the default."""
        return "submit" if self.request.method == "POST" else DEFAULT_SCOPE

    @extend_schema(
        request={
            "application/json": SubmitTextSerializer,
            "multipart/form-data": SubmitTextSerializer,
        },
        responses={
            201: SubmissionResultSerializer,
            200: OpenApiResponse(SubmissionResultSerializer, "The text was already known."),
            400: OpenApiResponse(description="Empty, undecodable or malformed submission."),
            409: OpenApiResponse(
                description="The file, text or URL was taken down (the message names the "
                "takedown), or another member already submitted this text."
            ),
            413: OpenApiResponse(description="Larger than SUBMISSION_MAX_BYTES."),
        },
    )
    def post(self, request):
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.SUBMISSION_MAX_BYTES * MAX_BODY_FACTOR + 65536:
            raise TooLargeError(
                f"The request is {declared:,} bytes; texts are limited to "
                f"{settings.SUBMISSION_MAX_BYTES:,} bytes."
            )
        serializer = SubmitTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upload = data.pop("file", None)
        text = data.pop("text", "")
        citation = services.Citation(**data)
        contributor = acting_contributor(request)
        if upload is not None:
            outcome = services.submit_upload(
                upload.read(),
                content_type=upload.content_type,
                filename=upload.name,
                citation=citation,
                submitted_by=contributor,
            )
        else:
            outcome = services.submit_text(text, citation=citation, submitted_by=contributor)
        if outcome.duplicate and not self.get_queryset().filter(pk=outcome.source.pk).exists():
            # Another member's source: its id, title, URL and licence are theirs to see.
            raise ConflictError(
                "This text is already in Alexandria (another member submitted it); it is "
                "analysed once, under that submission.",
                code="duplicate",
            )
        body = SubmissionResultSerializer(
            {"duplicate": outcome.duplicate, "source": outcome.source}
        ).data
        return Response(body, status=status.HTTP_200_OK if outcome.duplicate else 201)

    def get_queryset(self):
        return selectors.sources_visible_to(
            acting_contributor(self.request), staff=self.request.user.is_staff
        )


class SourceDetailApi(generics.RetrieveAPIView):
    """A source's citation and processing status (the full text is never served)."""

    permission_classes = [IsMember]
    serializer_class = SourceSerializer

    def get_queryset(self):
        return selectors.sources_visible_to(
            acting_contributor(self.request), staff=self.request.user.is_staff
        )
