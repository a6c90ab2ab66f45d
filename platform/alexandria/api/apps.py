from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "alexandria.api"
    verbose_name = "API"
