from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alexandria.contributors.identity import acting_contributor
from alexandria.contributors.models import discord_snowflake
from alexandria.contributors.permissions import IsBotService, IsMember
from alexandria.core.parsers import StrictUtf8JSONParser
from alexandria.knowledge.models import KnowledgeItem
from alexandria.reviews import selectors, services
from alexandria.reviews.models import Report, ReviewTask
from alexandria.reviews.permissions import IsDiscordModerator
from alexandria.reviews.serializers import (
    AnswerResultSerializer,
    AnswerSerializer,
    BannedMemberSerializer,
    HiddenItemSerializer,
    MyReputationSerializer,
    NextTaskSerializer,
    ReasonSerializer,
    RelayedSerializer,
    ReportListSerializer,
)

REPUTATION_EVENTS_SHOWN = 50
REPORTS_PAGE = 50


def _citation(anchor) -> dict:
    return {
        "source_id": anchor.source_id,
        "start": anchor.start,
        "end": anchor.end,
        "span_sha256": anchor.span_sha256,
        "source_sha256": anchor.source.sha256,
        "text_start": anchor.text_start,
        "text_end": anchor.text_end,
        "fragment": anchor.fragment,
        "link": anchor.link,
    }


def _provenance_body(item: KnowledgeItem) -> dict:
    """What an abstraction rests on, for reviewers to check it against."""
    tree = selectors.provenance(item)
    nodes = []
    for node in tree.nodes:
        suppressed = node.item.status in selectors.SUPPRESSED
        nodes.append(
            {
                "id": node.item.pk,
                "kind": node.item.kind,
                "layer": node.item.layer,
                "status": node.item.status,
                "text": "" if suppressed else node.item.text,
                "depth": node.depth,
                "derived_from": node.derived_from,
                "anchors": [
                    {**_citation(a), "title": a.source.title, "url": a.source.url}
                    for a in node.anchors
                ],
            }
        )
    return {"items": nodes, "omitted": tree.omitted}


def _task_body(task: ReviewTask, *, resumed: bool) -> dict:
    item = task.item
    anchors = list(selectors.item_anchors(item))
    sources = {}
    for anchor in anchors:
        sources.setdefault(
            anchor.source_id,
            {"source_id": anchor.source_id, "title": anchor.source.title, "url": anchor.source.url},
        )
    return {
        "id": task.pk,
        "expires_at": task.expires_at,
        "resumed": resumed,
        "item": {
            "id": item.pk,
            "kind": item.kind,
            "layer": item.layer,
            "text": item.text,
            "details": item.details,
        },
        "anchors": [_citation(a) for a in anchors],
        "sources": list(sources.values()),
        "provenance": _provenance_body(item),
        "edit_proposals": [
            {"id": p.pk, "text": p.text, "endorsements": p.endorsements}
            for p in selectors.open_edit_proposals(item)
        ],
    }


class NextReviewApi(APIView):
    """Hand the acting member an item to review (never their own, never one they reviewed).

    When the member already holds REVIEW_MAX_OPEN_TASKS open tasks, the oldest of them comes
    back (``resumed: true``) instead of an error. ``{"task": null}`` when nothing is left.
    """

    permission_classes = [IsMember]

    @extend_schema(responses=NextTaskSerializer)
    def get(self, request):
        offer = services.next_task(acting_contributor(request))
        task = _task_body(offer.task, resumed=offer.resumed) if offer.task else None
        return Response(NextTaskSerializer({"task": task}).data)


class AnswerTaskApi(APIView):
    """Answer a review task. Repeating the same verdict is harmless; a different one is 409."""

    permission_classes = [IsMember]
    parser_classes = [StrictUtf8JSONParser]

    @extend_schema(
        request=AnswerSerializer,
        responses={
            200: AnswerResultSerializer,
            400: OpenApiResponse(description="Invalid verdict or edit."),
            404: OpenApiResponse(description="No such task for this member."),
            409: OpenApiResponse(
                description="Already answered differently, or the item no longer takes answers."
            ),
        },
    )
    def post(self, request, pk: int):
        task = get_object_or_404(ReviewTask, pk=pk, contributor=acting_contributor(request))
        serializer = AnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = services.answer_task(task, **serializer.validated_data)
        body = {
            "task_id": outcome.task.pk,
            "item_id": outcome.task.item_id,
            "verdict": outcome.task.verdict,
            "repeated": outcome.repeated,
            "settled": outcome.settled,
            "edit_proposal_id": outcome.edit_proposal.pk if outcome.edit_proposal else None,
            "report_id": outcome.report.pk if outcome.report else None,
        }
        return Response(AnswerResultSerializer(body).data)


class MyReputationApi(APIView):
    """The acting member's reputation and the latest reasons it moved."""

    permission_classes = [IsMember]

    @extend_schema(responses=MyReputationSerializer)
    def get(self, request):
        contributor = acting_contributor(request)
        contributor.refresh_from_db(fields=["reputation"])
        events = selectors.reputation_ledger(contributor, limit=REPUTATION_EVENTS_SHOWN)
        body = {"reputation": contributor.reputation, "events": events}
        return Response(MyReputationSerializer(body).data)


def _report_body(report: Report) -> dict:
    return {
        "id": report.pk,
        "item_id": report.item_id,
        "item_text": report.item.text,
        "item_status": report.item.status,
        "reporter_discord_id": report.reporter.discord_id,
        "reporter_name": str(report.reporter),
        "comment": report.comment,
        "created_at": report.created_at,
        "relayed_at": report.relayed_at,
        "admin_url": (
            f"{settings.PUBLIC_BASE_URL}/admin/knowledge/knowledgeitem/{report.item_id}/change/"
        ),
    }


class ReportListApi(APIView):
    """Reports for the bot to relay to the moderation channel, oldest first (50 at a time)."""

    permission_classes = [IsBotService]

    @extend_schema(
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Only reports after this id."),
            OpenApiParameter(
                "unrelayed",
                OpenApiTypes.BOOL,
                description="Only reports not yet marked relayed (the bot's polling loop).",
            ),
        ],
        responses=ReportListSerializer,
    )
    def get(self, request):
        try:
            after = int(request.query_params.get("after") or 0)
        except ValueError as exc:
            raise ValidationError({"detail": "'after' must be a report id (an integer)."}) from exc
        unrelayed = request.query_params.get("unrelayed", "").lower() in {"1", "true", "yes"}
        reports = selectors.reports_after(after, unrelayed_only=unrelayed, limit=REPORTS_PAGE)
        body = {"results": [_report_body(report) for report in reports]}
        return Response(ReportListSerializer(body).data)


class ReportRelayedApi(APIView):
    """The bot posted this report to the moderation channel; it won't be listed as unrelayed."""

    permission_classes = [IsBotService]

    @extend_schema(request=None, responses=RelayedSerializer)
    def post(self, request, pk: int):
        report = services.mark_report_relayed(get_object_or_404(Report, pk=pk))
        return Response(RelayedSerializer(report).data)


class ModerateHideItemApi(APIView):
    """Hide an item (moderators through the bot: staff or DISCORD_MODERATOR_IDS)."""

    permission_classes = [IsBotService, IsDiscordModerator]
    parser_classes = [StrictUtf8JSONParser]

    @extend_schema(
        request=ReasonSerializer,
        responses={200: HiddenItemSerializer, 404: OpenApiResponse(description="No such item.")},
    )
    def post(self, request, pk: int):
        item = get_object_or_404(KnowledgeItem, pk=pk)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = services.moderator_hide_item(
            item,
            reason=serializer.validated_data["reason"],
            moderator=acting_contributor(request),
        )
        body = {
            "id": item.pk,
            "status": item.status,
            "hidden_reason": item.hidden_reason,
            "changed": changed,
        }
        return Response(HiddenItemSerializer(body).data)


class ModerateBanMemberApi(APIView):
    """Ban a member by Discord id (moderators through the bot: staff or DISCORD_MODERATOR_IDS)."""

    permission_classes = [IsBotService, IsDiscordModerator]
    parser_classes = [StrictUtf8JSONParser]

    @extend_schema(
        request=ReasonSerializer,
        responses={
            200: BannedMemberSerializer,
            400: OpenApiResponse(description="Not a Discord id, or no reason."),
            403: OpenApiResponse(description="Not a moderator, or the target is one."),
        },
    )
    def post(self, request, discord_id: str):
        discord_snowflake(discord_id)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member, changed = services.moderator_ban_member(
            discord_id,
            reason=serializer.validated_data["reason"],
            moderator=acting_contributor(request),
        )
        body = {
            "discord_id": member.discord_id,
            "display_name": member.display_name,
            "is_banned": member.is_banned,
            "ban_reason": member.ban_reason,
            "changed": changed,
        }
        return Response(BannedMemberSerializer(body).data)
