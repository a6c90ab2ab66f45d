from rest_framework import serializers

from alexandria.knowledge.serializers import CitationSerializer
from alexandria.search.querying import AGE_RATINGS, MAX_LIMIT, MIN_STATUSES


class AskQuerySerializer(serializers.Serializer):
    q = serializers.CharField(min_length=1, max_length=1000, trim_whitespace=True)
    layer = serializers.IntegerField(required=False, min_value=1)
    min_status = serializers.ChoiceField(choices=sorted(MIN_STATUSES), default="pending")
    max_age_rating = serializers.ChoiceField(choices=list(AGE_RATINGS), required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=5)
    summary = serializers.BooleanField(
        required=False, default=True, help_text="Ask the server's LLM for a cited summary."
    )


class ItemRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    layer = serializers.IntegerField()
    text = serializers.CharField()
    status = serializers.CharField()


class SourceRefSerializer(CitationSerializer):
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class AnswerSerializer(serializers.Serializer):
    item = ItemRefSerializer()
    score = serializers.FloatField(help_text="Cosine similarity to the question.")
    pro = ItemRefSerializer(many=True)
    contra = ItemRefSerializer(many=True)
    instructions = ItemRefSerializer(many=True)
    sources = SourceRefSerializer(many=True)


class SummarySerializer(serializers.Serializer):
    text = serializers.CharField()
    cited_item_ids = serializers.ListField(child=serializers.IntegerField())


class AskResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = AnswerSerializer(many=True)
    summary = SummarySerializer(allow_null=True)
