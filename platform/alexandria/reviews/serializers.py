from rest_framework import serializers

from alexandria.core.fields import TextField, VisibleTextField
from alexandria.knowledge.models import Review
from alexandria.knowledge.serializers import CitationSerializer


class ReviewItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    layer = serializers.IntegerField()
    text = serializers.CharField()
    details = serializers.JSONField()


class TaskSourceSerializer(serializers.Serializer):
    source_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class ProvenanceAnchorSerializer(CitationSerializer):
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class ProvenanceItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    layer = serializers.IntegerField()
    status = serializers.CharField()
    text = serializers.CharField(
        allow_blank=True, help_text="Empty for items hidden by moderators or withdrawn."
    )
    depth = serializers.IntegerField(help_text="Derivations between the reviewed item and this.")
    derived_from = serializers.ListField(
        child=serializers.IntegerField(), help_text="The items this one combines in turn."
    )
    anchors = ProvenanceAnchorSerializer(many=True)


class ProvenanceSerializer(serializers.Serializer):
    items = ProvenanceItemSerializer(
        many=True,
        help_text="The items the reviewed item derives from, recursively down to layer 1, "
        "breadth first; empty for a layer-1 item.",
    )
    omitted = serializers.IntegerField(help_text="Items left out to keep the answer short.")


class TaskEditProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    endorsements = serializers.IntegerField()


class ReviewTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    resumed = serializers.BooleanField(
        help_text="True when this is an open task handed out earlier: the member already holds "
        "REVIEW_MAX_OPEN_TASKS open tasks and gets the oldest one again."
    )
    item = ReviewItemSerializer()
    anchors = CitationSerializer(many=True)
    sources = TaskSourceSerializer(many=True)
    provenance = ProvenanceSerializer(
        help_text="The evidence of an abstraction (layer 2 and up): what it rests on."
    )
    edit_proposals = TaskEditProposalSerializer(
        many=True, help_text="Open edits; proposing the same text endorses one."
    )


class NextTaskSerializer(serializers.Serializer):
    task = ReviewTaskSerializer(
        allow_null=True, help_text="null when nothing is left for this member to review."
    )


class AnswerSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    comment = TextField(max_length=2000, required=False, allow_blank=True, default="")
    proposed_text = VisibleTextField(
        max_length=4000,
        required=False,
        allow_blank=True,
        default="",
        help_text="A better wording (with 'supported' or 'unclear'): opens or endorses an edit.",
    )


class AnswerResultSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    verdict = serializers.CharField()
    repeated = serializers.BooleanField(help_text="The same answer was already recorded.")
    settled = serializers.ChoiceField(
        choices=["accepted", "rejected"],
        allow_null=True,
        help_text="The consensus this answer completed, if any.",
    )
    edit_proposal_id = serializers.IntegerField(allow_null=True)
    report_id = serializers.IntegerField(allow_null=True)


class ReputationEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    delta = serializers.FloatField()
    reputation_after = serializers.FloatField()
    reason = serializers.CharField()
    item_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class MyReputationSerializer(serializers.Serializer):
    reputation = serializers.FloatField()
    events = ReputationEventSerializer(many=True, help_text="Newest first.")


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    item_text = serializers.CharField()
    item_status = serializers.CharField()
    reporter_discord_id = serializers.CharField(allow_null=True)
    reporter_name = serializers.CharField()
    comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    relayed_at = serializers.DateTimeField(allow_null=True)
    admin_url = serializers.CharField()


class ReportListSerializer(serializers.Serializer):
    results = ReportSerializer(many=True, help_text="Oldest first.")


class RelayedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    relayed_at = serializers.DateTimeField()


class ReasonSerializer(serializers.Serializer):
    reason = VisibleTextField(max_length=1000)


class HiddenItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    hidden_reason = serializers.CharField()
    changed = serializers.BooleanField(help_text="False when the item was already hidden.")


class BannedMemberSerializer(serializers.Serializer):
    discord_id = serializers.CharField()
    display_name = serializers.CharField(allow_blank=True)
    is_banned = serializers.BooleanField()
    ban_reason = serializers.CharField()
    changed = serializers.BooleanField(help_text="False when the member was already banned.")
