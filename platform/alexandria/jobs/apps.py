from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "alexandria.jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from alexandria.jobs.clip_score import ClipScoreHandler
        from alexandria.jobs.handlers import register_handler

        register_handler(ClipScoreHandler())
