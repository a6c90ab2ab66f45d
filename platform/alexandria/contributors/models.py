from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

# \A…\Z, not ^…$: "$" also matches before a final newline ("…222\n" would pass).
discord_snowflake = RegexValidator(r"\A[0-9]{15,21}\Z", "A Discord id is a 15-21 digit number.")


class Contributor(models.Model):
    """A member of the community: a Django user, usually linked to a Discord account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contributor"
    )
    discord_id = models.CharField(
        max_length=21, unique=True, null=True, blank=True, validators=[discord_snowflake]
    )
    display_name = models.CharField(max_length=100, blank=True)
    reputation = models.FloatField(
        default=1.0, help_text="Weight of this member's review votes; moves with agreement."
    )
    is_banned = models.BooleanField(default=False)
    ban_reason = models.TextField(blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reputation__gte=0), name="contributor_reputation_non_negative"
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()
