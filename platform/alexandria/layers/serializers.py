from rest_framework import serializers


class PendingJobsSerializer(serializers.Serializer):
    verify_merge = serializers.IntegerField()
    abstract = serializers.IntegerField()


class LayerProgressSerializer(serializers.Serializer):
    layer = serializers.IntegerField()
    items = serializers.IntegerField(help_text="Visible (pending or accepted) canonical items.")
    hypotheses = serializers.IntegerField()
    instructions = serializers.IntegerField()
    merged = serializers.IntegerField(help_text="Items merged into another item.")
    hidden_or_rejected = serializers.IntegerField()
    awaiting_merge_check = serializers.IntegerField()
    pending_jobs = PendingJobsSerializer()
    nodes_abstracted = serializers.IntegerField()
    nodes_in_progress = serializers.IntegerField()
    build_status = serializers.CharField()
    stop_reason = serializers.CharField(allow_blank=True)
    new_items = serializers.IntegerField(help_text="Items abstractions stored in this layer.")
    judged_useful = serializers.IntegerField()
    judged_useless = serializers.IntegerField(
        help_text="New items a judge_usefulness job rejected as useless."
    )
    dropped_not_novel = serializers.IntegerField(
        help_text="New items dropped as too similar to the items they combine."
    )


class LayersSerializer(serializers.Serializer):
    max_layers = serializers.IntegerField()
    layers = LayerProgressSerializer(many=True)
