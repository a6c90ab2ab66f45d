"""Who may call what. Every view names one of these explicitly (volunteer nodes:
``alexandria.jobs.permissions``)."""

from rest_framework.permissions import BasePermission

from alexandria.contributors.authentication import BotPrincipal


class IsBotService(BasePermission):
    message = "Only the Discord bot's service account may call this."

    def has_permission(self, request, view):
        return isinstance(request.auth, BotPrincipal)


class IsStaff(BasePermission):
    message = "Only staff may call this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsMember(BasePermission):
    """A community member acting through the bot, or a staff member logged in to the site (a
    session: a node's token authenticates its owner's user too, with the node as ``auth``)."""

    message = "Only community members may call this."

    def has_permission(self, request, view):
        if isinstance(request.auth, BotPrincipal):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and request.auth is None)
