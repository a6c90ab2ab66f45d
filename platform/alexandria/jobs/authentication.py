"""How volunteer nodes prove who they are: ``Authorization: Node <node token>``; tokens are
stored as SHA-256 hashes."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from alexandria.core.authentication import credentials
from alexandria.jobs.models import WorkerNode
from alexandria.jobs.services.leasing import node_by_token_hash
from alexandria.jobs.tokens import hash_node_token

NODE_LAST_SEEN_RESOLUTION_S = 30


class NodeTokenAuthentication(authentication.BaseAuthentication):
    """Every job-protocol call starts here, so the lookup is one hand-written query (the ORM
    spends more time building a three-table ``select_related`` than PostgreSQL answering it).
    The owner's Django user is loaded only if something asks for it."""

    keyword = "Node"

    def authenticate(self, request):
        token = credentials(request, self.keyword)
        if token is None:
            return None
        node, user_id, owner_banned = node_by_token_hash(hash_node_token(token))
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
