from rest_framework import serializers


class CitationSerializer(serializers.Serializer):
    """Where a statement rests in a source: offsets and hashes that verify the span against
    the original, and the few words of its ends that Alexandria keeps to find it (the span
    itself is not stored)."""

    source_id = serializers.IntegerField()
    start = serializers.IntegerField(help_text="Offset in the source's normalised text.")
    end = serializers.IntegerField()
    span_sha256 = serializers.CharField(
        help_text="SHA-256 of normalised_text[start:end] (UTF-8): verifies the span."
    )
    source_sha256 = serializers.CharField(help_text="SHA-256 of the source's normalised text.")
    text_start = serializers.CharField(
        allow_blank=True,
        help_text="The first words of the span (a text fragment's textStart), or the whole of "
        "a short span; empty when the retention limits left this anchor no quote.",
    )
    text_end = serializers.CharField(
        allow_blank=True,
        help_text="The last words of the span (textEnd); empty when text_start covers it.",
    )
    fragment = serializers.CharField(
        allow_blank=True, help_text="The quote as shown: 'text_start … text_end'."
    )
    link = serializers.CharField(
        allow_blank=True,
        help_text="The source's URL with a text directive (#:~:text=textStart,textEnd) that "
        "highlights the span in a browser; the bare URL without a quote, empty without a URL.",
    )
