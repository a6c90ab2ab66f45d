from django.db import models


class ApiKey(models.Model):
    """A key for the public read API: it raises the anonymous rate limit (``THROTTLE_PUBLIC_KEY``
    instead of ``THROTTLE_PUBLIC`` per address). Shown once when created, stored as SHA-256
    (high-entropy, so no slow hash needed); revoking it is for good."""

    owner = models.ForeignKey(
        "contributors.Contributor", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What the key is for.")
    prefix = models.CharField(
        max_length=16, help_text="The key's first characters, to recognise it (not secret)."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
