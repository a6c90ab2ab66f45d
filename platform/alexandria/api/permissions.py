"""Who may call what. Every view names one of these explicitly."""

from rest_framework.permissions import BasePermission

from alexandria.api.authentication import BotPrincipal
from alexandria.jobs.models import WorkerNode


class IsBotService(BasePermission):
    message = "Only the Discord bot's service account may call this."

    def has_permission(self, request, view):
        return isinstance(request.auth, BotPrincipal)


class IsWorkerNode(BasePermission):
    message = "Only a registered volunteer node may call this."

    def has_permission(self, request, view):
        return isinstance(request.auth, WorkerNode)


class IsStaff(BasePermission):
    message = "Only staff may call this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsMember(BasePermission):
    """A community member acting through the bot, or a staff member with a contributor."""

    message = "Only community members may call this."

    def has_permission(self, request, view):
        if isinstance(request.auth, BotPrincipal):
            return True
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_staff
            and not isinstance(request.auth, WorkerNode)
        )
