"""The Celery application. Tasks take ids, re-read state from the database and are idempotent:
Redis can lose messages, the database is the truth and the reconciler re-dispatches."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alexandria.settings")

app = Celery("alexandria")
app.config_from_object("django.conf:settings", namespace="CELERY")

default_exchange = Exchange("alexandria", type="direct")
app.conf.update(
    task_queues=(
        Queue("default", default_exchange, routing_key="default"),
        Queue("pipeline", default_exchange, routing_key="pipeline"),
        Queue("validation", default_exchange, routing_key="validation"),
        Queue("maintenance", default_exchange, routing_key="maintenance"),
    ),
    task_default_queue="default",
    task_default_exchange="alexandria",
    task_default_routing_key="default",
    task_routes={
        "tasks.pipeline.*": {"queue": "pipeline", "routing_key": "pipeline"},
        "tasks.layers.*": {"queue": "pipeline", "routing_key": "pipeline"},
        "tasks.validation.*": {"queue": "validation", "routing_key": "validation"},
        "tasks.maintenance.*": {"queue": "maintenance", "routing_key": "maintenance"},
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
app.conf.imports = ("tasks.pipeline", "tasks.validation", "tasks.layers", "tasks.maintenance")

from tasks.schedule import BEAT_SCHEDULE  # noqa: E402

app.conf.beat_schedule = BEAT_SCHEDULE
