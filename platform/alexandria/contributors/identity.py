"""Who a request acts for."""

from alexandria.contributors.authentication import BotPrincipal
from alexandria.contributors.models import Contributor
from alexandria.contributors.services import contributor_for_user


def acting_contributor(request) -> Contributor | None:
    """The member behind a request: named by the bot, else the user signed in (a staff
    session, or the owner of the calling node)."""
    if isinstance(request.auth, BotPrincipal):
        return request.auth.contributor
    if request.user and request.user.is_authenticated:
        return contributor_for_user(request.user)
    return None
