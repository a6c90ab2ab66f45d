from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "alexandria.sources"
    verbose_name = "Sources"
