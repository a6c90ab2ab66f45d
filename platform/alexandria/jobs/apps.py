from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "alexandria.jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # In ready(), not at the top: the handlers import models, which load after app configs.
        from alexandria.jobs.clip_score import ClipScoreHandler
        from alexandria.jobs.handlers import register_handler

        register_handler(ClipScoreHandler())
