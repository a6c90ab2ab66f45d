from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "alexandria.knowledge"
    verbose_name = "Knowledge"
