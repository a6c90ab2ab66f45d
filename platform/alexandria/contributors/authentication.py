"""How the Discord bot proves who it is: ``Authorization: Bot <service token>`` plus
``X-Discord-User: <member id>``; the backend acts as that member, creating the contributor on
first sight."""

import hmac
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from alexandria.contributors.models import Contributor, discord_snowflake
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.core.authentication import credentials


@dataclass(frozen=True)
class BotPrincipal:
    """``request.auth`` for calls made by the Discord bot on behalf of ``contributor``."""

    contributor: Contributor


class BotServiceAuthentication(authentication.BaseAuthentication):
    keyword = "Bot"

    def authenticate(self, request):
        token = credentials(request, self.keyword)
        if token is None:
            return None
        expected = settings.BOT_SERVICE_TOKEN
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Invalid bot service token.")
        discord_id = request.headers.get("X-Discord-User", "").strip()
        try:
            discord_snowflake(discord_id)
        except Exception as exc:
            raise exceptions.AuthenticationFailed(
                "The bot must name the acting member in the X-Discord-User header "
                "(a Discord user id)."
            ) from exc
        # HTTP headers arrive as latin-1; the bot sends the display name as UTF-8 bytes.
        raw_name = request.headers.get("X-Discord-Name", "")
        display_name = raw_name.encode("latin-1", "replace").decode("utf-8", "replace")[:100]
        contributor = contributor_for_discord_user(discord_id, display_name=display_name)
        if contributor.is_banned:
            raise exceptions.PermissionDenied("This member is banned from Alexandria.")
        return contributor.user, BotPrincipal(contributor)

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class BotServiceAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = BotServiceAuthentication
    name = "botServiceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Bot <service token>`, with the acting member's Discord id in the "
            "`X-Discord-User` header.",
        }
