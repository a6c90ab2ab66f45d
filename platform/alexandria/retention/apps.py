from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Copyright retention across the platform: the verbatim audit and takedowns."""

    name = "alexandria.retention"
    label = "retention"
    verbose_name = "Retention and takedowns"
