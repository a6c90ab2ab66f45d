"""The one place that says what Celery beat runs, and how often."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "reconcile-pipeline": {
        "task": "tasks.maintenance.reconcile_pipeline",
        "schedule": 60.0,
    },
    "purge-analysed-sources": {
        "task": "tasks.maintenance.purge_analysed_sources",
        "schedule": crontab(minute="*/10"),
    },
}
