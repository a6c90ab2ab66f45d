from rest_framework import serializers

from alexandria.figures.serializers import FigureHitSerializer
from alexandria.knowledge.serializers import CitationSerializer
from alexandria.search.querying import AGE_RATINGS, DEFAULT_MIN_STATUS, MAX_LIMIT, MIN_STATUSES


class AskQuerySerializer(serializers.Serializer):
    q = serializers.CharField(min_length=1, max_length=1000, trim_whitespace=True)
    layer = serializers.IntegerField(required=False, min_value=1)
    min_status = serializers.ChoiceField(
        choices=sorted(MIN_STATUSES),
        default=DEFAULT_MIN_STATUS,
        help_text="accepted: reviewed items only (default); pending: unreviewed ones too, each "
        "labelled with its status.",
    )
    max_age_rating = serializers.ChoiceField(choices=list(AGE_RATINGS), required=False)
    language = serializers.CharField(
        required=False,
        max_length=16,
        help_text="Only items grounded in sources of this language (ISO 639-1, e.g. de; "
        "regional forms such as de-AT match too).",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=5)
    summary = serializers.BooleanField(
        required=False, default=True, help_text="Ask the server's LLM for a cited summary."
    )


class ItemRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    layer = serializers.IntegerField()
    text = serializers.CharField()
    status = serializers.CharField(help_text="accepted, or pending (not reviewed yet).")


class SourceRefSerializer(CitationSerializer):
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class CitedItemSerializer(ItemRefSerializer):
    """A listed item with its own citations (for layer >= 2: those of what it derives from)."""

    sources = SourceRefSerializer(many=True)


class AnswerSerializer(serializers.Serializer):
    item = ItemRefSerializer()
    score = serializers.FloatField(help_text="Cosine similarity to the question.")
    pro = CitedItemSerializer(
        many=True, help_text="Neighbours a judge_stance verdict says support the item."
    )
    contra = CitedItemSerializer(
        many=True,
        help_text="Neighbours that contradict it: by verdict, by a negated or opposite "
        "statement of the same thing, or found as its antithesis.",
    )
    related = CitedItemSerializer(
        many=True, help_text="Similar items with no evidence of support or contradiction."
    )
    instructions = CitedItemSerializer(many=True)
    sources = SourceRefSerializer(many=True, help_text="The item's own citations.")


class SummarySerializer(serializers.Serializer):
    text = serializers.CharField()
    cited_item_ids = serializers.ListField(child=serializers.IntegerField())


class AskResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    how_to = serializers.BooleanField(
        help_text="A how-to question: instructions come first among the results."
    )
    results = AnswerSerializer(many=True)
    summary = SummarySerializer(allow_null=True)
    figures = FigureHitSerializer(
        many=True,
        help_text="Figures of the sources whose image matches the question (CLIP), with their "
        "caption and page; empty where the server has no CLIP weights.",
    )
