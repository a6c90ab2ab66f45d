from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Merging, abstraction layers, the vector index (Chroma) and grounded queries."""

    name = "alexandria.search"
    label = "search"
    verbose_name = "Search and layers"

    def ready(self) -> None:
        from alexandria.jobs.handlers import register_handler
        from alexandria.search import signals
        from alexandria.search.handlers import AbstractHandler, VerifyMergeHandler

        signals.connect()
        register_handler(VerifyMergeHandler())
        register_handler(AbstractHandler())
