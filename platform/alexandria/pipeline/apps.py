from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """Turns chunked sources into graphs, items and profiles through volunteer jobs."""

    name = "alexandria.pipeline"
    label = "pipeline"

    def ready(self) -> None:
        from alexandria.pipeline.handlers import register_pipeline_handlers

        register_pipeline_handlers()
