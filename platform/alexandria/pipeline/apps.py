from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """Turns chunked sources into graphs, items and profiles through volunteer jobs."""

    name = "alexandria.pipeline"
    label = "pipeline"

    def ready(self) -> None:
        # In ready(), not at the top: the handlers import models, which load after app configs.
        from alexandria.pipeline.handlers import register_pipeline_handlers
        from alexandria.pipeline.services.figures import store_extracted_figures
        from alexandria.sources.signals import upload_extracted

        register_pipeline_handlers()
        upload_extracted.connect(store_extracted_figures, dispatch_uid="pipeline.figures")
