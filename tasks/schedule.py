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
    "expire-leases": {
        "task": "tasks.maintenance.expire_leases",
        "schedule": 60.0,
    },
    # Every few seconds: under load, leasing slows down within seconds of dead rows (see
    # alexandria.jobs.services.vacuum_job_tables); a run that waited longer is dropped.
    "vacuum-job-tables": {
        "task": "tasks.maintenance.vacuum_job_tables",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    "reconcile-validation": {
        "task": "tasks.maintenance.reconcile_validation",
        "schedule": 120.0,
    },
    "sync-index": {
        "task": "tasks.layers.sync_index",
        "schedule": 60.0,
    },
    "merge-layers": {
        "task": "tasks.layers.merge_layers",
        "schedule": 60.0,
    },
    "build-layers": {
        "task": "tasks.layers.build_layers",
        "schedule": 120.0,
    },
}


def run_scheduled_tasks_once() -> None:
    """The embedded default has no beat process: run every scheduled task once, in-process."""
    from tasks.app import app

    app.loader.import_default_modules()
    for entry in BEAT_SCHEDULE.values():
        app.tasks[entry["task"]].apply(throw=True)
