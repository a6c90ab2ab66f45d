from django.apps import AppConfig


class ContributorsConfig(AppConfig):
    name = "alexandria.contributors"
    verbose_name = "Contributors"
