"""The one place that says what Celery beat runs, and how often."""

from celery.schedules import crontab

from alexandria.core.tasking import Task, app, registered

BEAT_SCHEDULE = {
    "reconcile-pipeline": {"task": Task.RECONCILE_PIPELINE.value, "schedule": 60.0},
    "purge-analysed-sources": {
        "task": Task.PURGE_ANALYSED_SOURCES.value,
        "schedule": crontab(minute="*/10"),
    },
    "expire-leases": {"task": Task.EXPIRE_LEASES.value, "schedule": 60.0},
    # Every few seconds: under load, leasing slows down within seconds of dead rows (see
    # alexandria.jobs.services.maintenance.vacuum_job_tables); a run that waited longer is
    # dropped.
    "vacuum-job-tables": {
        "task": Task.VACUUM_JOB_TABLES.value,
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    "reconcile-validation": {"task": Task.RECONCILE_VALIDATION.value, "schedule": 120.0},
    "sync-index": {"task": Task.SYNC_INDEX.value, "schedule": 60.0},
    "judge-stances": {"task": Task.JUDGE_STANCES.value, "schedule": 120.0},
    "merge-layers": {"task": Task.MERGE_LAYERS.value, "schedule": 60.0},
    "build-layers": {"task": Task.BUILD_LAYERS.value, "schedule": 120.0},
    # Weekly, Sunday night: a finding is logged as an error (alexandria.retention.audit).
    "audit-retention": {
        "task": Task.AUDIT_RETENTION.value,
        "schedule": crontab(minute=30, hour=3, day_of_week=0),
    },
    # Weekly, after the audit: a full release when the slice has none on disk, else a diff.
    "write-release": {
        "task": Task.WRITE_RELEASE.value,
        "schedule": crontab(minute=30, hour=4, day_of_week=0),
    },
}
# Not run by the embedded default's every-few-seconds loop: the demo writes its release once,
# at the end.
NOT_IN_PROCESS = {"write-release"}

app.conf.beat_schedule = BEAT_SCHEDULE


def run_scheduled_tasks_once() -> None:
    """The embedded default has no beat process: run every scheduled task once, in-process."""
    for name, entry in BEAT_SCHEDULE.items():
        if name in NOT_IN_PROCESS:
            continue
        registered(Task(entry["task"])).apply(throw=True)
