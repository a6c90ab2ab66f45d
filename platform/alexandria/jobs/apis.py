"""The volunteer job protocol (nodes) and the member-facing node and leaderboard endpoints."""

from datetime import UTC

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from alexandria.contributors.identity import acting_contributor
from alexandria.contributors.permissions import IsMember
from alexandria.core.errors import TooLargeError
from alexandria.core.parsers import StrictUtf8JSONParser
from alexandria.jobs import selectors
from alexandria.jobs.authentication import NodeTokenAuthentication
from alexandria.jobs.permissions import IsWorkerNode
from alexandria.jobs.serializers import (
    ExchangeRequestSerializer,
    ExchangeResponseSerializer,
    FailLeaseSerializer,
    FailResponseSerializer,
    HeartbeatResponseSerializer,
    LeaderboardSerializer,
    LeaseRequestSerializer,
    LeaseResponseSerializer,
    MemberNodeSerializer,
    ModelClassSerializer,
    NodeSerializer,
    NodeStatusSerializer,
    RegisteredNodeSerializer,
    RegisterNodeSerializer,
    SubmitResponseSerializer,
    SubmitResultSerializer,
    parse_exchange_request,
)
from alexandria.jobs.services.held_leases import fail_lease, heartbeat
from alexandria.jobs.services.leasing import GrantedLease, lease_jobs
from alexandria.jobs.services.nodes import (
    declare_model_class,
    node_contract,
    register_node,
    report_node_status,
    revoke_node,
)
from alexandria.jobs.services.submission import Submission, SubmitOutcome, exchange, submit_result
from alexandria.jobs.throttles import NodeThrottle

# Room for the request envelope (stats, JSON punctuation) around an output at the limit.
SUBMIT_ENVELOPE_BYTES = 64 * 1024

_lease_errors = {
    404: OpenApiResponse(description="No such lease for this node."),
    409: OpenApiResponse(description="The lease is no longer this node's to act on."),
}


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Nodes speak JSON only: answer in it without matching Accept against renderers, which
    cost more than anything else DRF does per node call. Request bodies are still matched
    to parsers (a non-JSON body gets 415)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class NodeOutputsJSONParser(StrictUtf8JSONParser):
    """Bodies that carry outputs: each output is judged on its own (``submission``), so a lone
    surrogate in one refuses that output, never the batch around it."""

    allow_lone_surrogates = True


class NodeProtocolApi(APIView):
    """Base of the endpoints a volunteer node calls with its token."""

    authentication_classes = [NodeTokenAuthentication]
    permission_classes = [IsWorkerNode]
    throttle_classes = [NodeThrottle]
    parser_classes = [StrictUtf8JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnlyNegotiation


class NodeListCreateApi(generics.ListAPIView):
    """Register a volunteer node (its token is shown once), or list your nodes."""

    permission_classes = [IsMember]
    serializer_class = MemberNodeSerializer
    parser_classes = [StrictUtf8JSONParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "contributor"

    def get_queryset(self):
        return selectors.member_nodes(acting_contributor(self.request))

    @extend_schema(
        request=RegisterNodeSerializer,
        responses={
            201: RegisteredNodeSerializer,
            400: OpenApiResponse(description="Unknown job kinds, or a name already in use."),
        },
    )
    def post(self, request):
        serializer = RegisterNodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registered = register_node(
            acting_contributor(request),
            name=serializer.validated_data["name"],
            capabilities=serializer.validated_data["capabilities"],
        )
        node = registered.node
        body = {
            "id": node.pk,
            "name": node.name,
            "token": registered.token,
            "capabilities": node.capabilities,
            "trust": node.trust,
            "start_command": (
                f"alexandria-worker --server {settings.PUBLIC_BASE_URL} --token {registered.token}"
            ),
        }
        return Response(RegisteredNodeSerializer(body).data, status=status.HTTP_201_CREATED)


class NodeRevokeApi(APIView):
    """Revoke a node's token (its owner or staff); its leased jobs go back to the queue."""

    permission_classes = [IsMember]

    @extend_schema(
        request=None,
        responses={200: NodeSerializer, 404: OpenApiResponse(description="No such node of yours.")},
    )
    def post(self, request, pk: int):
        nodes = selectors.nodes_manageable_by(
            acting_contributor(request), staff=request.user.is_staff
        )
        node = revoke_node(get_object_or_404(nodes, pk=pk))
        return Response(NodeSerializer(selectors.node_info(node)).data)


class NodeMeApi(NodeProtocolApi):
    """The calling node as the backend sees it: capabilities, trust, flags."""

    @extend_schema(responses=NodeSerializer)
    def get(self, request):
        return Response(NodeSerializer(selectors.node_info(request.auth)).data)

    @extend_schema(request=ModelClassSerializer, responses=NodeSerializer)
    def patch(self, request):
        """Declare the node's model class (stored with its capabilities)."""
        serializer = ModelClassSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = declare_model_class(request.auth, serializer.validated_data["model_class"])
        return Response(NodeSerializer(selectors.node_info(node)).data)


class NodeStatusApi(NodeProtocolApi):
    """The node says whether it works, is paused (its model is unavailable) or stopped, and
    why; its owner sees it in /volunteer status, moderators in admin."""

    @extend_schema(request=NodeStatusSerializer, responses=NodeStatusSerializer)
    def post(self, request):
        serializer = NodeStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report_node_status(request.auth, **serializer.validated_data)
        return Response(serializer.data)


class LeaseJobsApi(NodeProtocolApi):
    """Lease up to ``max_jobs`` jobs of the kinds this node runs."""

    @extend_schema(request=LeaseRequestSerializer, responses=LeaseResponseSerializer)
    def post(self, request):
        serializer = LeaseRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        granted = lease_jobs(
            request.auth,
            max_jobs=serializer.validated_data["max_jobs"],
            kinds=serializer.validated_data.get("kinds"),
        )
        contract = node_contract(request.auth)
        return Response({"jobs": [_leased_job(grant, contract) for grant in granted]})


def _leased_job(grant: GrantedLease, contract: str) -> dict:
    """A LeasedJobSerializer body, built directly: this is the hottest response there is."""
    return {
        "lease_id": str(grant.lease_id),
        "job_id": grant.job_id,
        "kind": grant.kind,
        "kind_version": grant.kind_version,
        "payload": grant.payload,
        "contract": contract,
        "lease_expires_at": _iso_datetime(grant.expires_at),
        "lease_seconds": grant.seconds,
    }


def _iso_datetime(value) -> str:
    """As DRF's DateTimeField writes it (UTC with a Z)."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LeaseHeartbeatApi(NodeProtocolApi):
    """Keep a lease alive; ``cancelled`` tells the node to stop."""

    @extend_schema(request=None, responses={200: HeartbeatResponseSerializer, **_lease_errors})
    def post(self, request, lease_id):
        beat = heartbeat(request.auth, lease_id)
        body = {
            "lease_id": beat.lease_id,
            "lease_expires_at": beat.expires_at,
            "cancelled": beat.cancelled,
        }
        return Response(HeartbeatResponseSerializer(body).data)


def check_declared_size(request, limit: int) -> None:
    """Refuse an oversized body from its Content-Length, before parsing it."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > limit:
        raise TooLargeError(f"The request is {declared:,} bytes; the limit is {limit:,} bytes.")


class LeaseSubmitApi(NodeProtocolApi):
    """Hand in a job's output; repeating the same submission is safe."""

    parser_classes = [NodeOutputsJSONParser]

    @extend_schema(
        request=SubmitResultSerializer,
        responses={
            200: SubmitResponseSerializer,
            400: OpenApiResponse(description="The output breaks the kind's output schema."),
            413: OpenApiResponse(description="Larger than RESULT_MAX_BYTES."),
            **_lease_errors,
        },
    )
    def post(self, request, lease_id):
        check_declared_size(request, settings.RESULT_MAX_BYTES + SUBMIT_ENVELOPE_BYTES)
        serializer = SubmitResultSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = submit_result(
            request.auth,
            lease_id,
            output=serializer.validated_data["output"],
            stats=dict(serializer.validated_data["stats"]),
        )
        return Response({"result_id": outcome.result_id, "status": outcome.result_status})


def _outcome_body(outcome: SubmitOutcome) -> dict:
    """One submission's outcome in an exchange answer: refusals carry the status and body the
    submit endpoint would have answered with."""
    error = outcome.error
    return {
        "lease_id": str(outcome.lease_id),
        "status": 200 if error is None else error.status_code,
        "result_id": outcome.result_id,
        "result_status": outcome.result_status,
        "detail": "" if error is None else str(error),
        "errors": None if error is None else error.errors,
    }


class JobsExchangeApi(NodeProtocolApi):
    """Hand in finished results and lease more work in one round trip (BOINC's scheduler
    request). Each result is judged on its own, as the submit endpoint would; then up to
    ``max_jobs`` jobs are leased as the lease endpoint would."""

    parser_classes = [NodeOutputsJSONParser]

    @extend_schema(
        request=ExchangeRequestSerializer,
        responses={
            200: ExchangeResponseSerializer,
            413: OpenApiResponse(description="The request is larger than EXCHANGE_MAX_BYTES."),
        },
    )
    def post(self, request):
        check_declared_size(request, settings.EXCHANGE_MAX_BYTES)
        return Response(exchange_body(request.auth, request.data))


def exchange_body(node, data) -> dict:
    """The answer to an exchange request's parsed body (``NodeExchangeMiddleware`` serves
    node calls with it; the view above is their documented schema and fallback)."""
    parsed = parse_exchange_request(data)
    outcomes, granted = exchange(
        node,
        [
            Submission(item["lease_id"], item["output"], dict(item["stats"]))
            for item in parsed["results"]
        ],
        max_jobs=parsed["max_jobs"],
        kinds=parsed.get("kinds"),
    )
    contract = node_contract(node)
    return {
        "results": [_outcome_body(outcome) for outcome in outcomes],
        "jobs": [_leased_job(grant, contract) for grant in granted],
    }


class LeaseFailApi(NodeProtocolApi):
    """Report a failed job, or give it back with ``release`` (no attempt counted)."""

    @extend_schema(
        request=FailLeaseSerializer, responses={200: FailResponseSerializer, **_lease_errors}
    )
    def post(self, request, lease_id):
        serializer = FailLeaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = fail_lease(request.auth, lease_id, **serializer.validated_data)
        return Response(
            FailResponseSerializer(
                {"job_status": outcome.job_status, "attempts": outcome.attempts}
            ).data
        )


class LeaderboardApi(APIView):
    """Credit per contributor, with what it was earned for."""

    permission_classes = [IsMember]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "limit", int, description=f"How many (1-{selectors.LEADERBOARD_MAX}, default 10)."
            )
        ],
        responses=LeaderboardSerializer,
    )
    def get(self, request):
        try:
            limit = int(request.query_params.get("limit", 10))
        except ValueError as exc:
            raise ValidationError({"limit": ["must be a whole number"]}) from exc
        if not 1 <= limit <= selectors.LEADERBOARD_MAX:
            raise ValidationError({"limit": [f"must be 1-{selectors.LEADERBOARD_MAX}"]})
        return Response(LeaderboardSerializer({"entries": selectors.leaderboard(limit)}).data)
