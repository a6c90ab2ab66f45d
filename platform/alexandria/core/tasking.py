"""Celery wiring for the whole server: the one app, its declared queues and tasks, the one task
decorator with the shared retry policy, and ``enqueue``.

Dependencies run one way: an app's ``tasks`` module imports its services, and services enqueue
tasks by their declared name (``Task``), so no service imports a task module. Tasks take ids,
re-read state from the database and are idempotent: Redis can lose messages, the database is
the truth and the reconcilers re-dispatch.
"""

import os
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from celery import Celery
from django.db import OperationalError, transaction
from kombu import Exchange
from kombu import Queue as KombuQueue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")


class Queue(StrEnum):
    """The declared queues; a deployment runs workers for all of them (docker/compose.yaml)."""

    DEFAULT = "default"
    PIPELINE = "pipeline"
    VALIDATION = "validation"
    MAINTENANCE = "maintenance"


class Task(StrEnum):
    """Every server-side task, by the name it is registered and sent under."""

    EXTRACT_UPLOAD = "sources.extract_upload"
    INGEST_SOURCE = "pipeline.ingest_source"
    ADVANCE_SOURCE = "pipeline.advance_source"
    RECONCILE_PIPELINE = "pipeline.reconcile_pipeline"
    PURGE_ANALYSED_SOURCES = "sources.purge_analysed_sources"
    VALIDATE_RESULTS = "jobs.validate_results"
    RESOLVE_REPLICATION = "jobs.resolve_replication"
    RECONCILE_VALIDATION = "jobs.reconcile_validation"
    EXPIRE_LEASES = "jobs.expire_leases"
    VACUUM_JOB_TABLES = "jobs.vacuum_job_tables"
    INDEX_ITEMS = "search.index_items"
    INDEX_SOURCE_ITEMS = "search.index_source_items"
    SYNC_INDEX = "search.sync_index"
    JUDGE_STANCES = "search.judge_stances"
    MERGE_LAYERS = "layers.merge_layers"
    BUILD_LAYERS = "layers.build_layers"
    COMPOSE_ABSTRACTION = "layers.compose_abstraction"
    AUDIT_RETENTION = "retention.audit_retention"
    WRITE_RELEASE = "releases.write_release"

    @property
    def queue(self) -> Queue:
        return TASK_QUEUES[self]


TASK_QUEUES: dict[Task, Queue] = {
    Task.EXTRACT_UPLOAD: Queue.PIPELINE,
    Task.INGEST_SOURCE: Queue.PIPELINE,
    Task.ADVANCE_SOURCE: Queue.PIPELINE,
    Task.RECONCILE_PIPELINE: Queue.MAINTENANCE,
    Task.PURGE_ANALYSED_SOURCES: Queue.MAINTENANCE,
    Task.VALIDATE_RESULTS: Queue.VALIDATION,
    Task.RESOLVE_REPLICATION: Queue.VALIDATION,
    Task.RECONCILE_VALIDATION: Queue.MAINTENANCE,
    Task.EXPIRE_LEASES: Queue.MAINTENANCE,
    Task.VACUUM_JOB_TABLES: Queue.MAINTENANCE,
    Task.INDEX_ITEMS: Queue.PIPELINE,
    Task.INDEX_SOURCE_ITEMS: Queue.PIPELINE,
    Task.SYNC_INDEX: Queue.MAINTENANCE,
    Task.JUDGE_STANCES: Queue.PIPELINE,
    Task.MERGE_LAYERS: Queue.PIPELINE,
    Task.BUILD_LAYERS: Queue.PIPELINE,
    Task.COMPOSE_ABSTRACTION: Queue.PIPELINE,
    Task.AUDIT_RETENTION: Queue.MAINTENANCE,
    Task.WRITE_RELEASE: Queue.MAINTENANCE,
}

# Lock timeouts, deadlocks and dropped connections (database or broker): the transaction rolled
# back, and every task is idempotent, so it is retried with jittered back-off.
RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": (OperationalError, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}

app = Celery("alexandria")
app.config_from_object("django.conf:settings", namespace="CELERY")
_exchange = Exchange("alexandria", type="direct")
app.conf.update(
    task_queues=tuple(KombuQueue(q.value, _exchange, routing_key=q.value) for q in Queue),
    task_default_queue=Queue.DEFAULT.value,
    task_default_exchange="alexandria",
    task_default_routing_key=Queue.DEFAULT.value,
    task_routes={
        name.value: {"queue": queue.value, "routing_key": queue.value}
        for name, queue in TASK_QUEUES.items()
    },
    # A task is acknowledged only after it ran, and re-queued if its worker died mid-way.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    task_ignore_result=True,
    timezone="UTC",
)
# Each Django app's ``tasks`` module, imported by the worker at start and by ``registered``.
app.autodiscover_tasks()


def task(name: Task, *, retry: bool = True, **options: Any) -> Callable[[Callable], Any]:
    """Register a task under its declared name. ``retry=False`` for beat's periodic tasks: the
    next tick runs them again, so a retry would only stack up behind it. ``options`` are
    Celery's (``time_limit``, ``soft_time_limit``)."""
    return app.task(name=name.value, **(RETRY_POLICY if retry else {}), **options)


def registered(name: Task):
    """The Celery task registered as ``name`` (imports the apps' task modules on first use)."""
    if name.value not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name.value]


def send(name: Task, *args: Any) -> None:
    """Send the task now (run it in-process where there is no broker: tests, the demo)."""
    registered(name).delay(*args)


def enqueue(name: Task, *args: Any) -> None:
    """Send the task once the current transaction commits (now, outside a transaction): a
    worker must find what the task's ids refer to."""
    transaction.on_commit(lambda: send(name, *args))
