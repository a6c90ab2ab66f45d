import uuid

from rest_framework import serializers

from alexandria.core.fields import TextField, VisibleTextField
from alexandria.core.parsers import has_lone_surrogate
from alexandria.jobs.models import CreditEntry, WorkerNode
from jobkinds import CONTRACTS, TINY

MAX_LEASE_BATCH = 64


class CapabilitiesSerializer(serializers.Serializer):
    kinds = serializers.ListField(child=TextField(max_length=64), min_length=1, max_length=100)
    models = serializers.ListField(
        child=TextField(max_length=200), required=False, default=list, max_length=100
    )
    max_context_tokens = serializers.IntegerField(min_value=0, required=False, default=0)
    gpu = TextField(max_length=200, required=False, allow_blank=True, default="")
    model_class = serializers.ChoiceField(
        choices=CONTRACTS,
        default=TINY,
        help_text="What the node's model can do: tiny models decode through narrow grammars "
        "(a handful of facts per chunk); capable ones get the full output schema. Each leased "
        "job names the output contract that follows from it.",
    )


class ModelClassSerializer(serializers.Serializer):
    model_class = serializers.ChoiceField(
        choices=CONTRACTS, help_text="The node's model class now (alexandria-worker --model-class)."
    )


class RegisterNodeSerializer(serializers.Serializer):
    name = VisibleTextField(max_length=100)
    capabilities = CapabilitiesSerializer()


class NodeSerializer(serializers.ModelSerializer):
    online = serializers.BooleanField(help_text="Seen recently, or holding a live lease.")

    class Meta:
        model = WorkerNode
        fields = [
            "id",
            "name",
            "capabilities",
            "trust",
            "is_flagged",
            "flag_reason",
            "valid_results",
            "invalid_results",
            "last_seen_at",
            "revoked_at",
            "online",
            "releases",
            "paused_until",
            "pause_reason",
            "reported_state",
            "reported_reason",
            "reported_at",
        ]
        read_only_fields = fields


class MemberNodeSerializer(NodeSerializer):
    jobs_done = serializers.IntegerField(help_text="Jobs that earned credit.")
    credit = serializers.DecimalField(max_digits=14, decimal_places=3)

    class Meta(NodeSerializer.Meta):
        fields = [*NodeSerializer.Meta.fields, "token_prefix", "created_at", "jobs_done", "credit"]
        read_only_fields = fields


class RegisteredNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    token = serializers.CharField(help_text="Shown only now; Alexandria stores a hash of it.")
    capabilities = serializers.JSONField()
    trust = serializers.FloatField()
    start_command = serializers.CharField()


class LeaseRequestSerializer(serializers.Serializer):
    max_jobs = serializers.IntegerField(min_value=1, max_value=MAX_LEASE_BATCH, default=1)
    kinds = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )


class LeasedJobSerializer(serializers.Serializer):
    lease_id = serializers.UUIDField()
    job_id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_version = serializers.CharField()
    payload = serializers.JSONField()
    # Not a second enum of the model classes: the OpenAPI schema names one enum once.
    contract = serializers.CharField(
        help_text="The output contract the result must meet, the node's model_class: tiny "
        "(the kind's tiny limits) or capable (the output schema, bounds sized to the payload).",
    )
    lease_expires_at = serializers.DateTimeField()
    lease_seconds = serializers.IntegerField()


class LeaseResponseSerializer(serializers.Serializer):
    jobs = LeasedJobSerializer(many=True)


class HeartbeatResponseSerializer(serializers.Serializer):
    lease_id = serializers.UUIDField()
    lease_expires_at = serializers.DateTimeField()
    cancelled = serializers.BooleanField(help_text="Stop working: a moderator cancelled the job.")


class ResultStatsSerializer(serializers.Serializer):
    elapsed_s = serializers.FloatField(min_value=0, required=False)
    prompt_tokens = serializers.IntegerField(min_value=0, required=False)
    completion_tokens = serializers.IntegerField(min_value=0, required=False)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SubmitResultSerializer(serializers.Serializer):
    output = serializers.DictField(help_text="Must match the job kind's output schema.")
    stats = ResultStatsSerializer(required=False, default=dict)


class SubmittedResultSerializer(SubmitResultSerializer):
    lease_id = serializers.UUIDField()


class ExchangeRequestSerializer(serializers.Serializer):
    results = SubmittedResultSerializer(
        many=True, required=False, default=list, max_length=MAX_LEASE_BATCH
    )
    max_jobs = serializers.IntegerField(
        min_value=0, max_value=MAX_LEASE_BATCH, default=0, help_text="0: only hand in results."
    )
    kinds = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )

    def validate_results(self, results):
        if len({item["lease_id"] for item in results}) != len(results):
            raise serializers.ValidationError("Each lease may appear only once.")
        return results


def parse_exchange_request(data) -> dict:
    """ExchangeRequestSerializer's validation, written out: the serializer deep-copies its
    nested fields for every request, which costs more than the rest of an exchange. The
    serializer stays the documented schema; tests hold both to the same answers, except that
    this one takes no strings for numbers or numbers for names."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    errors: dict = {}
    results = data.get("results", [])
    if not isinstance(results, list):
        errors["results"] = ["Expected a list of items."]
    elif len(results) > MAX_LEASE_BATCH:
        errors["results"] = [f"Ensure this field has no more than {MAX_LEASE_BATCH} elements."]
    else:
        parsed, item_errors = [], []
        for item in results:
            try:
                parsed.append(_parse_submitted_result(item))
                item_errors.append({})
            except serializers.ValidationError as exc:
                item_errors.append(exc.detail)
        if any(item_errors):
            errors["results"] = item_errors
        elif len({item["lease_id"] for item in parsed}) != len(parsed):
            errors["results"] = ["Each lease may appear only once."]
        results = parsed
    max_jobs = data.get("max_jobs", 0)
    if type(max_jobs) is not int or not 0 <= max_jobs <= MAX_LEASE_BATCH:
        errors["max_jobs"] = [f"A whole number from 0 to {MAX_LEASE_BATCH} is required."]
    kinds = data.get("kinds")
    if "kinds" in data and not (
        isinstance(kinds, list)
        and len(kinds) <= 100
        and all(isinstance(kind, str) and 0 < len(kind) <= 64 for kind in kinds)
        and not has_lone_surrogate(kinds)
    ):
        errors["kinds"] = ["A list of at most 100 job kind names is required."]
    if errors:
        raise serializers.ValidationError(errors)
    parsed_request = {"results": results, "max_jobs": max_jobs}
    if "kinds" in data:
        parsed_request["kinds"] = kinds
    return parsed_request


_STATS_FIELDS = ResultStatsSerializer().fields


def _parse_submitted_result(item) -> dict:
    if not isinstance(item, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    errors: dict = {}
    try:
        lease_id = uuid.UUID(str(item.get("lease_id")))
    except ValueError:
        errors["lease_id"] = ["Must be a valid UUID."]
    output = item.get("output")
    if not isinstance(output, dict):
        errors["output"] = ["Expected a dictionary of items."]
    stats = item.get("stats", {})
    if not isinstance(stats, dict):
        errors["stats"] = ["Expected a dictionary of items."]
        stats = {}
    clean_stats = {}
    for name, field in _STATS_FIELDS.items():
        if name in stats:
            try:
                clean_stats[name] = field.run_validation(stats[name])
            except serializers.ValidationError as exc:
                errors.setdefault("stats", {})[name] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)
    return {"lease_id": lease_id, "output": output, "stats": clean_stats}


class ExchangeOutcomeSerializer(serializers.Serializer):
    lease_id = serializers.UUIDField()
    status = serializers.IntegerField(
        help_text="What POST /leases/{lease_id}/submit would have answered: 200 taken (or an "
        "identical repeat), 400 output breaks the kind's schema, 404 no such lease, 409 lease "
        "lost or a different output already in, 413 output too large."
    )
    result_id = serializers.IntegerField(allow_null=True)
    result_status = serializers.CharField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)
    errors = serializers.ListField(child=serializers.CharField(), allow_null=True)


class ExchangeResponseSerializer(serializers.Serializer):
    results = ExchangeOutcomeSerializer(many=True, help_text="One per submitted result, in order.")
    jobs = LeasedJobSerializer(many=True)


class SubmitResponseSerializer(serializers.Serializer):
    result_id = serializers.IntegerField()
    status = serializers.CharField(help_text="The result's validation status.")


class FailLeaseSerializer(serializers.Serializer):
    error = serializers.CharField(max_length=4000, allow_blank=True, trim_whitespace=False)
    release = serializers.BooleanField(
        default=False, help_text="Give the job back untouched (node shutting down)."
    )


class NodeStatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["working", "paused", "stopped"],
        help_text="paused: its model is unavailable and it leases nothing; stopped: it gave up.",
    )
    reason = serializers.CharField(max_length=500, allow_blank=True, default="")


class FailResponseSerializer(serializers.Serializer):
    job_status = serializers.CharField()
    attempts = serializers.IntegerField()


class CreditBreakdownSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="Job kind.")
    basis = serializers.ChoiceField(choices=CreditEntry.Basis.choices)
    jobs = serializers.IntegerField()
    credit = serializers.DecimalField(max_digits=14, decimal_places=3)


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    contributor_id = serializers.IntegerField()
    display_name = serializers.CharField()
    credit = serializers.DecimalField(max_digits=14, decimal_places=3)
    jobs = serializers.IntegerField()
    breakdown = CreditBreakdownSerializer(many=True)


class LeaderboardSerializer(serializers.Serializer):
    entries = LeaderboardEntrySerializer(many=True)
