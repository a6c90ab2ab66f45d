from django.apps import AppConfig


class PublicConfig(AppConfig):
    """Anonymous search pages, permalinks and ``/api/v1/public/…``; API keys that raise the
    anonymous rate limit."""

    name = "alexandria.public"
    label = "public"
    verbose_name = "Public web and API"
