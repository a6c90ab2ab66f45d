from django.apps import AppConfig


class SearchConfig(AppConfig):
    """The vector index (Chroma), kept in step with the database, and grounded queries."""

    name = "alexandria.search"
    label = "search_index"
    verbose_name = "Search"
