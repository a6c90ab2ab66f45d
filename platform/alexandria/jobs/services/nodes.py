"""Volunteer nodes: registration (the token is shown once), revocation and trust."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.jobs.errors import InvalidInput
from alexandria.jobs.models import Job, JobEvent, Lease, WorkerNode
from alexandria.jobs.services.lifecycle import end_leases, requeue_jobs
from alexandria.jobs.tokens import hash_node_token, new_node_token
from jobkinds import TINY, UnknownKindError, get_kind

TOKEN_PREFIX_CHARS = 12


@dataclass(frozen=True)
class RegisteredNode:
    node: WorkerNode
    token: str


def register_node(owner: Contributor, *, name: str, capabilities: dict) -> RegisteredNode:
    """Create a node for ``owner``; the token is returned here once and stored only hashed."""
    unknown = []
    for kind in capabilities["kinds"]:
        try:
            get_kind(kind)
        except UnknownKindError:
            unknown.append(kind)
    if unknown:
        raise InvalidInput(
            f"Unknown job kinds: {', '.join(sorted(unknown))}.",
            {"capabilities": {"kinds": [f"unknown kind {kind!r}" for kind in unknown]}},
        )
    token = new_node_token()
    try:
        with transaction.atomic():
            node = WorkerNode.objects.create(
                owner=owner,
                name=name,
                token_hash=hash_node_token(token),
                token_prefix=token[:TOKEN_PREFIX_CHARS],
                capabilities=capabilities,
            )
    except IntegrityError as exc:
        raise InvalidInput(
            f"You already have a node named {name!r}; pick another name.",
            {"name": ["already used by another of your nodes"]},
        ) from exc
    return RegisteredNode(node=node, token=token)


def node_contract(node: WorkerNode) -> str:
    """The output contract of the jobs ``node`` leases and the results it hands in: its model
    class (``jobkinds.CONTRACTS``); nodes registered before model classes are tiny."""
    return node.capabilities.get("model_class", TINY)


def declare_model_class(node: WorkerNode, model_class: str) -> WorkerNode:
    """Store the model class the node says it runs now (a node declares it as it starts,
    before it leases): the jobs it leases name that contract, and the results it hands in are
    held to it."""
    node.capabilities = {**node.capabilities, "model_class": model_class}
    WorkerNode.objects.filter(pk=node.pk).update(capabilities=node.capabilities)
    return node


def revoke_node(node: WorkerNode) -> WorkerNode:
    """Revoke the node's token and give its leased jobs back to the queue."""
    now = timezone.now()
    with transaction.atomic():
        WorkerNode.objects.filter(pk=node.pk, revoked_at__isnull=True).update(revoked_at=now)
        jobs = list(
            Job.objects.select_for_update()
            .filter(status=Job.Status.LEASED, lease_owner=node)
            .order_by("id")
        )
        end_leases(jobs, Lease.State.RELEASED, now)
        requeue_jobs(jobs, now)
        JobEvent.objects.bulk_create(
            JobEvent(job=job, node=node, kind=JobEvent.Kind.RELEASED, message="node revoked")
            for job in jobs
        )
    node.refresh_from_db(fields=["revoked_at"])
    return node


def report_node_status(node: WorkerNode, *, state: str, reason: str) -> None:
    """What the node says of itself (working; paused because its model is unavailable;
    stopped after giving up), for its owner and the admin to see."""
    WorkerNode.objects.filter(pk=node.pk).update(
        reported_state=state, reported_reason=reason, reported_at=timezone.now()
    )


def raise_trust(node_ids: list[int]) -> None:
    """Agreement with another contributor moves trust a fifth of the way towards 1."""
    WorkerNode.objects.filter(pk__in=node_ids).update(trust=Least(F("trust") * 0.8 + 0.2, 1.0))


def lower_trust(node_ids: list[int]) -> None:
    """A wrong or disputed result halves trust."""
    WorkerNode.objects.filter(pk__in=node_ids).update(trust=F("trust") * 0.5)
