"""Per-member cooldowns, checked inside the command so the member gets a friendly answer."""

from __future__ import annotations

from discord import app_commands


class MemberCooldown:
    """At most ``rate`` uses per ``per`` seconds per member (discord.py's token bucket)."""

    def __init__(self, rate: int, per: float):
        self.rate = rate
        self.per = per
        self._buckets: dict[int, app_commands.Cooldown] = {}

    def retry_after(self, member_id: int) -> float | None:
        """Use one token; seconds to wait when there was none left, else None."""
        bucket = self._buckets.setdefault(member_id, app_commands.Cooldown(self.rate, self.per))
        return bucket.update_rate_limit()

    def reset(self, member_id: int) -> None:
        self._buckets.pop(member_id, None)
