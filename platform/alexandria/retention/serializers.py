from rest_framework import serializers

from alexandria.core.fields import VisibleTextField
from alexandria.sources.models import Takedown


class TakedownRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=Takedown.Scope.choices)
    value = VisibleTextField(
        max_length=2000,
        help_text="A source id, an exact URL, a URL prefix, a domain (subdomains included) or "
        "the SHA-256 of a submitted file or normalised text, as the scope says.",
    )
    reason = VisibleTextField(max_length=2000, help_text="Why (kept in the register).")


class TakedownSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.__str__", default="", read_only=True)
    removed_sources = serializers.SerializerMethodField(
        help_text="Former ids of the sources this takedown removed, so far."
    )

    class Meta:
        model = Takedown
        fields = ("id", "scope", "value", "reason", "requested_by", "created_at", "removed_sources")

    def get_removed_sources(self, takedown: Takedown) -> list[int]:
        return sorted(tombstone.former_source_id for tombstone in takedown.tombstones.all())


class TakedownOutcomeSerializer(serializers.Serializer):
    takedown = TakedownSerializer()
    created = serializers.BooleanField(
        help_text="False when the same scope and value were taken down before (applied again)."
    )
    removed_now = serializers.ListField(
        child=serializers.IntegerField(), help_text="Former ids of the sources removed now."
    )
    items_withdrawn = serializers.IntegerField(
        help_text="Items withdrawn now because their evidence went."
    )
