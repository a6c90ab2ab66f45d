"""Moderator writes on worker nodes that the job lifecycle itself doesn't make (trust, flags).

Requeueing and cancelling live in ``alexandria.jobs.services.lifecycle``, revoking in
``alexandria.jobs.services.nodes``.
"""

from alexandria.core.errors import AlexandriaError
from alexandria.jobs.models import WorkerNode


def set_node_trust(node: WorkerNode, trust: float) -> None:
    """Set how far the node is trusted: 0 = always replicated … 1 = fully trusted."""
    if not 0 <= trust <= 1:
        raise AlexandriaError(f"Trust must be between 0 and 1, not {trust}.")
    WorkerNode.objects.filter(pk=node.pk).update(trust=trust)
    node.trust = trust


def unflag_node(node: WorkerNode) -> None:
    """Clear a flag raised on the node (by implausible results or a moderator)."""
    WorkerNode.objects.filter(pk=node.pk).update(is_flagged=False, flag_reason="")
    node.is_flagged = False
    node.flag_reason = ""
