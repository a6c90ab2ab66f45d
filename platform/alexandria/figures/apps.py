from django.apps import AppConfig


class FiguresConfig(AppConfig):
    """Figures of sources (images with their captions) and their CLIP embeddings."""

    name = "alexandria.figures"
    label = "figures"
    verbose_name = "Figures"

    def ready(self) -> None:
        # In ready(), not at the top: these import models, which load after app configs.
        from alexandria.figures.handlers import ClipEmbedHandler
        from alexandria.figures.services.images import purge_with_texts, stored_images
        from alexandria.jobs.handlers import register_handler
        from alexandria.jobs.services.payloads import register_image_reader
        from alexandria.sources.signals import texts_purging

        register_handler(ClipEmbedHandler())
        register_image_reader(stored_images)
        texts_purging.connect(purge_with_texts, dispatch_uid="figures.purge_with_texts")
