"""Writes of the public side: API keys (created, used, revoked)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.core.errors import ConflictError
from alexandria.public.models import ApiKey

API_KEY_PREFIX = "alx_"
# How often last_used_at is written: not on every request of a busy key.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACTIVE_KEYS = 5


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ensure_key_allowed(owner: Contributor) -> None:
    """Refuse a sixth active key (checked again by ``create_api_key``; the admin's form asks
    first, to show the refusal as a form error)."""
    if owner.api_keys.filter(revoked_at__isnull=True).count() >= MAX_ACTIVE_KEYS:
        raise ConflictError(
            f"You already have {MAX_ACTIVE_KEYS} active API keys; revoke one first."
        )


def create_api_key(owner: Contributor, *, name: str = "") -> tuple[ApiKey, str]:
    """A new key for ``owner``; the key itself is returned only here (shown once)."""
    ensure_key_allowed(owner)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        owner=owner, name=name, prefix=key[:12], key_hash=hash_api_key(key)
    )
    return api_key, key


def active_key(key: str) -> ApiKey | None:
    """The active key ``key`` names, noting its use (at most once a minute)."""
    api_key = ApiKey.objects.filter(key_hash=hash_api_key(key), revoked_at__isnull=True).first()
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def revoke_api_key(api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
