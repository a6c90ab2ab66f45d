"""How callers prove who they are.

* The Discord bot: ``Authorization: Bot <service token>`` plus ``X-Discord-User: <member id>``;
  the backend acts as that member, creating the contributor on first sight.
* Volunteer nodes: ``Authorization: Node <node token>``; tokens are stored as SHA-256 hashes.
* Staff: Django session (admin login).
"""

import hmac
import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from alexandria.contributors.models import Contributor, discord_snowflake
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.jobs import pg_queue
from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services import use_pg_queue
from alexandria.jobs.tokens import hash_node_token

NODE_LAST_SEEN_RESOLUTION_S = 30


@dataclass(frozen=True)
class BotPrincipal:
    """``request.auth`` for calls made by the Discord bot on behalf of ``contributor``."""

    contributor: Contributor


def _credentials(request, scheme: str) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    prefix, _, credentials = header.partition(" ")
    if prefix.lower() != scheme.lower():
        return None
    credentials = credentials.strip()
    if not credentials:
        raise exceptions.AuthenticationFailed(f"Empty {scheme} token.")
    return credentials


class BotServiceAuthentication(authentication.BaseAuthentication):
    keyword = "Bot"

    def authenticate(self, request):
        token = _credentials(request, self.keyword)
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


class NodeTokenAuthentication(authentication.BaseAuthentication):
    """Every job-protocol call starts here, so the lookup is one hand-written query (the ORM
    spends more time building a three-table ``select_related`` than PostgreSQL answering it).
    The owner's Django user is loaded only if something asks for it."""

    keyword = "Node"

    def authenticate(self, request):
        token = _credentials(request, self.keyword)
        if token is None:
            return None
        node, user_id, owner_banned = _node_by_token_hash(hash_node_token(token))
        if node is None:
            raise exceptions.AuthenticationFailed("Unknown node token.")
        if node.is_revoked:
            raise exceptions.PermissionDenied("This node's token has been revoked.")
        if owner_banned:
            raise exceptions.PermissionDenied("The owner of this node is banned.")
        now = timezone.now()
        stale = node.last_seen_at is None or (
            (now - node.last_seen_at).total_seconds() > NODE_LAST_SEEN_RESOLUTION_S
        )
        if stale:
            WorkerNode.objects.filter(pk=node.pk).update(last_seen_at=now)
            node.last_seen_at = now
        return SimpleLazyObject(lambda: get_user_model().objects.get(pk=user_id)), node

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


def _node_by_token_hash(token_hash: str) -> tuple[WorkerNode | None, int | None, bool]:
    """The node with this token hash, its owner's user id and whether the owner is banned."""
    if use_pg_queue():
        row = pg_queue.node_by_token_hash(token_hash)
        if row is None:
            return None, None, False
        *fields, user_id, owner_banned = row
        node = WorkerNode.from_db(connection.alias, pg_queue.NODE_FIELDS, fields)
        node.capabilities = json.loads(node.capabilities)
        return node, user_id, owner_banned
    node = WorkerNode.objects.select_related("owner").filter(token_hash=token_hash).first()
    if node is None:
        return None, None, False
    return node, node.owner.user_id, node.owner.is_banned


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


class NodeTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = NodeTokenAuthentication
    name = "nodeToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Node <node token>` as shown once when the node was registered.",
        }
