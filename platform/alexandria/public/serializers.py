"""The public API's shapes. Search answers are /ask's (``search.serializers``); items and
sources carry citations and nothing about members, nodes or jobs."""

from rest_framework import serializers

from alexandria.figures.serializers import FigureHitSerializer
from alexandria.search.querying import AGE_RATINGS, MAX_LIMIT, MIN_STATUSES
from alexandria.search.serializers import (
    AnswerSerializer,
    CitedItemSerializer,
    ItemRefSerializer,
    SourceRefSerializer,
)

MAX_PAGE = 50
# What an item's details may show: an instruction's aim and steps, a hypothesis' stance.
PUBLIC_DETAILS = ("stance", "goal", "prerequisites", "steps")


class AgeQuerySerializer(serializers.Serializer):
    max_age_rating = serializers.ChoiceField(
        choices=list(AGE_RATINGS),
        default=12,
        help_text="Highest age rating shown (a source's minimum reader age); 12 unless a "
        "higher one is asked for. Unrated sources count as 18.",
    )


class SearchQuerySerializer(AgeQuerySerializer):
    q = serializers.CharField(min_length=1, max_length=1000, trim_whitespace=True)
    layer = serializers.IntegerField(required=False, min_value=1, max_value=32)
    kind = serializers.ChoiceField(choices=["hypothesis", "instruction"], required=False)
    genre = serializers.CharField(required=False, max_length=100)
    keyword = serializers.CharField(required=False, max_length=100)
    language = serializers.CharField(required=False, max_length=16)
    source = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    min_status = serializers.ChoiceField(
        choices=sorted(MIN_STATUSES),
        default="accepted",
        help_text="accepted: reviewed items only (default); pending: unreviewed ones too, each "
        "labelled with its status.",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=5)
    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=1)


class PageSerializer(serializers.Serializer):
    query = serializers.CharField()
    page = serializers.IntegerField()
    has_more = serializers.BooleanField(help_text="Whether the next page has results.")


class PublicSearchSerializer(PageSerializer):
    how_to = serializers.BooleanField(
        help_text="A how-to question: instructions come first among the results."
    )
    results = AnswerSerializer(many=True)
    figures = FigureHitSerializer(
        many=True,
        help_text="On page 1: figures of the shown sources whose image matches the query "
        "(CLIP), with caption, page and a link to the source's page; never the image.",
    )


class MatchSerializer(serializers.Serializer):
    item = CitedItemSerializer()
    score = serializers.FloatField(help_text="Cosine similarity to the query.")


class RetrievalSerializer(PageSerializer):
    results = MatchSerializer(many=True)


class ItemBriefSerializer(ItemRefSerializer):
    pass


class ProvenanceEntrySerializer(serializers.Serializer):
    item = ItemRefSerializer()
    depth = serializers.IntegerField(help_text="Derivations below the item (1: it combines).")
    citations = SourceRefSerializer(many=True)


class ItemDetailSerializer(ItemRefSerializer):
    details = serializers.DictField(help_text="Instruction: goal, prerequisites, steps.")
    age_rating = serializers.IntegerField()
    reviews = serializers.DictField(
        child=serializers.IntegerField(), help_text="Members' verdicts, counted."
    )
    citations = SourceRefSerializer(many=True, help_text="Its anchors, and those below it.")
    provenance = ProvenanceEntrySerializer(many=True)
    provenance_not_shown = serializers.IntegerField(
        help_text="Items below it that are not shown (hidden, rejected, or too many)."
    )
    merged_from = ItemBriefSerializer(many=True)
    built_on_this = ItemBriefSerializer(many=True)


class AnchorSerializer(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    span_sha256 = serializers.CharField()
    text_start = serializers.CharField(allow_blank=True)
    text_end = serializers.CharField(allow_blank=True)
    fragment = serializers.CharField(allow_blank=True)
    link = serializers.CharField(allow_blank=True)


class SourceDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    sha256 = serializers.CharField(allow_null=True)
    language = serializers.CharField(allow_blank=True)
    genre = serializers.CharField(allow_blank=True)
    keywords = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField(allow_blank=True)
    age_rating = serializers.IntegerField(help_text="18 while the source is not rated.")
    age_reasons = serializers.DictField()
    text_purged_at = serializers.DateTimeField(
        allow_null=True, help_text="When its text was deleted after analysis."
    )
    anchors = AnchorSerializer(many=True)
    items = ItemBriefSerializer(many=True)


class CountSerializer(serializers.Serializer):
    name = serializers.CharField()
    sources = serializers.IntegerField()


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class ApiKeyCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    key = serializers.CharField(help_text="Shown only now: keep it secret.")
