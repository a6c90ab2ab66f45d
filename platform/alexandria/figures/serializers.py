"""Figures as answers show them: the caption's anchor, the page and the source's citation, with
a link to the source's public page; never the image (its bytes are deleted after analysis)."""

from rest_framework import serializers


class FigureCaptionSerializer(serializers.Serializer):
    start = serializers.IntegerField(help_text="Offset in the source's normalised text.")
    end = serializers.IntegerField()
    span_sha256 = serializers.CharField(help_text="SHA-256 of the caption's span: verifies it.")
    text_start = serializers.CharField(allow_blank=True)
    text_end = serializers.CharField(allow_blank=True)
    fragment = serializers.CharField(
        allow_blank=True, help_text="The words kept of the caption: 'text_start … text_end'."
    )
    link = serializers.CharField(
        allow_blank=True, help_text="The source's URL with a text fragment of the caption."
    )


class FigureSourceSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="source_id")
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    sha256 = serializers.CharField(source="source_sha256", allow_blank=True)


class FigureHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    similarity = serializers.FloatField(
        help_text="Cosine of the figure's CLIP image embedding and the query's text embedding."
    )
    page = serializers.IntegerField(allow_null=True, help_text="1-based PDF page, if any.")
    index = serializers.IntegerField(help_text="Position among the source's figures, from 0.")
    caption = FigureCaptionSerializer(
        allow_null=True, help_text="The caption's anchor (null: no caption was found)."
    )
    source = FigureSourceSerializer(source="*")
    source_page = serializers.CharField(help_text="The source's public page.")
