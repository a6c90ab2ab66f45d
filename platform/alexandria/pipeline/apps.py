from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """Turns chunked sources into graphs, items and profiles through volunteer jobs."""

    name = "alexandria.pipeline"
    label = "pipeline"

    def ready(self) -> None:
        # In ready(), not at the top: the handlers import models, which load after app configs.
        from alexandria.pipeline.handlers import register_pipeline_handlers

        register_pipeline_handlers()
