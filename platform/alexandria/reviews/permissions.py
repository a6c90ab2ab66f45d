"""Who may moderate through the bot."""

from django.conf import settings
from rest_framework.permissions import BasePermission

from alexandria.contributors.authentication import BotPrincipal


class IsDiscordModerator(BasePermission):
    """The bot, acting for a member who is staff or listed in DISCORD_MODERATOR_IDS."""

    message = "Only moderators may do this."

    def has_permission(self, request, view):
        if not isinstance(request.auth, BotPrincipal):
            return False
        contributor = request.auth.contributor
        return bool(
            contributor.user.is_staff or contributor.discord_id in settings.DISCORD_MODERATOR_IDS
        )
