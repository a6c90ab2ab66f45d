from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "alexandria.releases"
    label = "releases"
    verbose_name = "Dataset releases"
