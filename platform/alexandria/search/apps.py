from django.apps import AppConfig


class SearchConfig(AppConfig):
    """The vector index (Chroma), kept in step with the database, and grounded queries."""

    name = "alexandria.search"
    label = "search_index"
    verbose_name = "Search"

    def ready(self) -> None:
        # Handlers reach the models: imported once the app registry is ready.
        from alexandria.jobs.handlers import register_handler
        from alexandria.search.handlers import JudgeStanceHandler

        register_handler(JudgeStanceHandler())
