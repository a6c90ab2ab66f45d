"""Who a request acts for."""

from alexandria.api.authentication import BotPrincipal
from alexandria.contributors.models import Contributor
from alexandria.contributors.services import contributor_for_user
from alexandria.jobs.models import WorkerNode


def acting_contributor(request) -> Contributor | None:
    """The member behind a request: named by the bot, owning the node, or the staff user."""
    if isinstance(request.auth, BotPrincipal):
        return request.auth.contributor
    if isinstance(request.auth, WorkerNode):
        return request.auth.owner
    if request.user and request.user.is_authenticated:
        return contributor_for_user(request.user)
    return None
