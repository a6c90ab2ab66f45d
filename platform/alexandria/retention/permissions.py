"""Who may take sources down."""

from rest_framework.permissions import BasePermission

from alexandria.contributors.authentication import BotPrincipal
from alexandria.contributors.permissions import IsStaff
from alexandria.reviews.permissions import IsDiscordModerator


class IsStaffOrModerator(BasePermission):
    """Staff signed in to the site, or the bot acting for a moderator (as for the other /mod/
    endpoints); a node's token does not count, not even a staff member's node."""

    message = "Only staff or moderators may do this."

    def has_permission(self, request, view):
        if isinstance(request.auth, BotPrincipal):
            return IsDiscordModerator().has_permission(request, view)
        return request.auth is None and IsStaff().has_permission(request, view)
