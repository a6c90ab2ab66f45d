from django.apps import AppConfig


class LayersConfig(AppConfig):
    """Merging and the abstraction layers built on the vector index."""

    name = "alexandria.layers"
    # The models were created under the search app: same tables, migrations, admin URLs.
    label = "search"
    verbose_name = "Layers"

    def ready(self) -> None:
        # Handlers reach the models: imported once the app registry is ready.
        from alexandria.jobs.handlers import register_handler
        from alexandria.layers.handlers import (
            AbstractHandler,
            JudgeUsefulnessHandler,
            VerifyMergeHandler,
        )

        register_handler(VerifyMergeHandler())
        register_handler(AbstractHandler())
        register_handler(JudgeUsefulnessHandler())
