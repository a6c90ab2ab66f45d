from rest_framework import serializers

from alexandria.core.fields import VisibleTextField
from alexandria.sources.models import Source

LICENCE_NOTE_MAX_CHARS = 2000


class CitationFields(serializers.Serializer):
    # Strings only (a JSON number is no title), and nothing made of invisible characters.
    title = VisibleTextField(max_length=500, required=False, allow_blank=True, default="")
    authors = VisibleTextField(max_length=1000, required=False, allow_blank=True, default="")
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True, default="")
    doi = VisibleTextField(max_length=255, required=False, allow_blank=True, default="")
    licence_note = VisibleTextField(
        max_length=LICENCE_NOTE_MAX_CHARS, required=False, allow_blank=True, default=""
    )
    language = VisibleTextField(max_length=16, required=False, allow_blank=True, default="")


class SubmitTextSerializer(CitationFields):
    text = VisibleTextField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="The text, UTF-8."
    )
    file = serializers.FileField(
        required=False, help_text="Or a file: plain text, Markdown, HTML or PDF (multipart)."
    )

    def validate(self, attrs):
        has_text = bool(attrs.get("text"))
        if has_text == ("file" in attrs):
            raise serializers.ValidationError("Send either a non-empty 'text' or a 'file'.")
        return attrs


class SourceProfileSerializer(serializers.Serializer):
    """What the describe, rate_age and reconstruct jobs found out about a source."""

    genre = serializers.CharField()
    category = serializers.CharField()
    keywords = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()
    age_rating = serializers.IntegerField(allow_null=True)
    age_reasons = serializers.DictField()
    reconstruction_fidelity = serializers.FloatField(allow_null=True)


class SourceSerializer(serializers.ModelSerializer):
    # Not a URLField: the schema's "uri" format would reject the empty string stored for none.
    url = serializers.CharField(read_only=True, help_text="Where the text came from, or empty.")
    text_retained = serializers.SerializerMethodField()
    profile = SourceProfileSerializer(read_only=True, allow_null=True)
    chunk_count = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "title",
            "authors",
            "url",
            "doi",
            "licence_note",
            "language",
            "format",
            "sha256",
            "char_count",
            "byte_size",
            "status",
            "failure_reason",
            "text_retained",
            "text_purged_at",
            "chunk_count",
            "profile",
            "created_at",
        ]
        read_only_fields = fields

    def get_text_retained(self, source: Source) -> bool:
        return not source.is_purged

    def get_chunk_count(self, source: Source) -> int:
        # Lists annotate the count (selectors.sources_visible_to); a single source counts.
        total = getattr(source, "chunk_total", None)
        return source.chunks.count() if total is None else total


class SubmissionResultSerializer(serializers.Serializer):
    duplicate = serializers.BooleanField(help_text="True when this text was already known.")
    source = SourceSerializer()
