from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "alexandria.jobs"
    verbose_name = "Jobs"
