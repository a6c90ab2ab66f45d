"""Reads for volunteer jobs: nodes, the leaderboard, and work the reconciler must redo."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.jobs.models import CreditEntry, Job, JobResult, Lease, WorkerNode

LEADERBOARD_MAX = 100


def with_online(nodes: QuerySet[WorkerNode]) -> QuerySet[WorkerNode]:
    """Annotate ``online``: seen within NODE_ONLINE_WINDOW_SECONDS, or holding a live lease
    (a node busy with long jobs only calls in at heartbeats)."""
    now = timezone.now()
    live_lease = Lease.objects.filter(
        node=OuterRef("pk"), state=Lease.State.ACTIVE, expires_at__gt=now
    )
    seen_since = now - timedelta(seconds=settings.NODE_ONLINE_WINDOW_SECONDS)
    return nodes.annotate(
        online=ExpressionWrapper(
            # isnull=False keeps a never-seen node False, not SQL NULL.
            Q(last_seen_at__isnull=False, last_seen_at__gte=seen_since) | Exists(live_lease),
            output_field=BooleanField(),
        )
    )


def node_info(node: WorkerNode) -> WorkerNode:
    return with_online(WorkerNode.objects.filter(pk=node.pk)).get()


def member_nodes(contributor: Contributor) -> QuerySet[WorkerNode]:
    """A member's nodes with the jobs they got credit for and that credit."""
    return with_online(
        WorkerNode.objects.filter(owner=contributor)
        .annotate(
            jobs_done=Count("credit_entries"),
            credit=Coalesce(
                Sum("credit_entries__amount"),
                Value(Decimal(0)),
                output_field=DecimalField(max_digits=14, decimal_places=3),
            ),
        )
        .order_by("created_at", "id")
    )


def nodes_manageable_by(contributor: Contributor, *, staff: bool) -> QuerySet[WorkerNode]:
    nodes = WorkerNode.objects.all()
    return nodes if staff else nodes.filter(owner=contributor)


def leaderboard(limit: int) -> list[dict]:
    """Top contributors by credit, each with credit broken down by job kind and basis."""
    top = list(
        CreditEntry.objects.values("contributor_id")
        .annotate(credit=Sum("amount"), jobs=Count("id"))
        .order_by("-credit", "contributor_id")[: min(limit, LEADERBOARD_MAX)]
    )
    ids = [row["contributor_id"] for row in top]
    names = {c.pk: str(c) for c in Contributor.objects.select_related("user").filter(pk__in=ids)}
    breakdown: dict[int, list[dict]] = {pk: [] for pk in ids}
    rows = (
        CreditEntry.objects.filter(contributor_id__in=ids)
        .values("contributor_id", "job__kind", "basis")
        .annotate(credit=Sum("amount"), jobs=Count("id"))
        .order_by("contributor_id", "-credit", "job__kind", "basis")
    )
    for row in rows:
        breakdown[row["contributor_id"]].append(
            {
                "kind": row["job__kind"],
                "basis": row["basis"],
                "jobs": row["jobs"],
                "credit": row["credit"],
            }
        )
    return [
        {
            "rank": rank,
            "contributor_id": row["contributor_id"],
            "display_name": names.get(row["contributor_id"], ""),
            "credit": row["credit"],
            "jobs": row["jobs"],
            "breakdown": breakdown[row["contributor_id"]],
        }
        for rank, row in enumerate(top, start=1)
    ]


def stale_pending_result_ids() -> list[int]:
    """Results nobody validated long after submission (their Celery message was lost)."""
    cutoff = timezone.now() - timedelta(seconds=settings.VALIDATION_STALE_SECONDS)
    return list(
        JobResult.objects.filter(status=JobResult.Status.PENDING, created_at__lt=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)[:1000]
    )


def stalled_replication_ids() -> list[int]:
    """Replicated jobs waiting for a verdict while none of their replicas is still running."""
    cutoff = timezone.now() - timedelta(seconds=settings.VALIDATION_STALE_SECONDS)
    running = Job.objects.filter(
        replica_of=OuterRef("pk"),
        status__in=(Job.Status.QUEUED, Job.Status.LEASED, Job.Status.VALIDATING),
    )
    return list(
        Job.objects.filter(
            replica_of__isnull=True, status=Job.Status.VALIDATING, updated_at__lt=cutoff
        )
        .filter(results__status=JobResult.Status.VALID)
        .exclude(Exists(running))
        .order_by("id")
        .values_list("pk", flat=True)
        .distinct()[:1000]
    )
