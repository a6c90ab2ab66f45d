"""Nodes that give leases back without finishing them.

A node whose model server died used to lease and release the same jobs twice a second for as
long as it ran, and nobody noticed. Every lease a node gives back is counted, on the job and
on the node; a node that gave back more than ``NODE_CHURN_MAX_RELEASES`` leases within
``NODE_CHURN_WINDOW_SECONDS``, more than it handed results in for, is paused: it leases
nothing for ``NODE_CHURN_PAUSE_SECONDS`` (HTTP 429 with ``Retry-After`` and the reason, shown
to its owner) while it may still hand results in and give leases back. A job given back
``JOB_RELEASES_AVOID_AFTER`` times is not leased again to a node that gave it back within
``JOB_RELEASE_AVOID_SECONDS`` (the lease statements hold that rule).

Counting happens where a lease is given back, never on the lease path, which only compares
the node's ``paused_until`` with the clock.
"""

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from alexandria.jobs.errors import NodePaused
from alexandria.jobs.models import Job, JobResult, Lease, WorkerNode

log = logging.getLogger(__name__)


def pause_of(node: WorkerNode, now: datetime) -> NodePaused | None:
    """The refusal a lease request of ``node`` gets now, or None when it may lease."""
    if node.paused_until is None or node.paused_until <= now:
        return None
    wait = math.ceil((node.paused_until - now).total_seconds())
    return NodePaused(f"This node is paused: {node.pause_reason}", wait=wait)


def record_release(node: WorkerNode, job: Job, now: datetime) -> None:
    """Count a lease of ``job`` that ``node`` gave back unfinished; pause the node when it
    gives back more than it finishes."""
    Job.objects.filter(pk=job.pk).update(releases=F("releases") + 1)
    WorkerNode.objects.filter(pk=node.pk).update(releases=F("releases") + 1)
    if pause_of(node, now) is None:
        _pause_if_churning(node, now)


def _pause_if_churning(node: WorkerNode, now: datetime) -> None:
    window = settings.NODE_CHURN_WINDOW_SECONDS
    since = now - timedelta(seconds=window)
    released = Lease.objects.filter(
        node=node, state=Lease.State.RELEASED, ended_at__gte=since
    ).count()
    if released <= settings.NODE_CHURN_MAX_RELEASES:
        return
    completed = JobResult.objects.filter(node=node, created_at__gte=since).count()
    if completed >= released:
        return
    until = now + timedelta(seconds=settings.NODE_CHURN_PAUSE_SECONDS)
    reason = (
        f"it gave back {released} leases unfinished in {math.ceil(window / 60)} minutes and "
        f"handed in {completed} results; check its model server (it may lease again at "
        f"{until:%Y-%m-%d %H:%M} UTC)"
    )
    WorkerNode.objects.filter(pk=node.pk).update(paused_until=until, pause_reason=reason)
    node.paused_until, node.pause_reason = until, reason
    log.warning("node %s (#%d) paused: %s", node.name, node.pk, reason)
