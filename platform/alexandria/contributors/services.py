"""Writes for contributors."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from alexandria.contributors.models import Contributor


def contributor_for_discord_user(discord_id: str, *, display_name: str = "") -> Contributor:
    """Find the member with this Discord id, creating user and contributor on first sight."""
    contributor = Contributor.objects.select_related("user").filter(discord_id=discord_id).first()
    if contributor is not None:
        if display_name and contributor.display_name != display_name:
            Contributor.objects.filter(pk=contributor.pk).update(display_name=display_name)
            contributor.display_name = display_name
        return contributor
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=f"discord-{discord_id}")
            user.set_unusable_password()
            user.save(update_fields=["password"])
            return Contributor.objects.create(
                user=user, discord_id=discord_id, display_name=display_name
            )
    except IntegrityError:
        # A concurrent request created the same member first.
        return Contributor.objects.select_related("user").get(discord_id=discord_id)


def contributor_for_user(user) -> Contributor:
    """The contributor record of a (staff) user, created on first use."""
    contributor, _ = Contributor.objects.get_or_create(
        user=user, defaults={"display_name": user.get_username()}
    )
    return contributor


def ban_contributor(contributor: Contributor, *, reason: str) -> None:
    contributor.is_banned = True
    contributor.ban_reason = reason
    contributor.banned_at = timezone.now()
    contributor.save(update_fields=["is_banned", "ban_reason", "banned_at"])


def unban_contributor(contributor: Contributor) -> None:
    contributor.is_banned = False
    contributor.ban_reason = ""
    contributor.banned_at = None
    contributor.save(update_fields=["is_banned", "ban_reason", "banned_at"])
