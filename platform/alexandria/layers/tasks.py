"""The layers' Celery tasks: merging and abstraction, each calling a service."""

from django.conf import settings

from alexandria.core.tasking import Task, send, task
from alexandria.layers.services import abstraction, merging


@task(Task.MERGE_LAYERS, retry=False)
def merge_layers() -> int:
    """Compare every layer's unchecked items with the layer; re-queues itself while more wait."""
    checked = 0
    for layer in merging.layers_awaiting_merge():
        report = merging.run_merge(layer)
        checked += report.checked
        if report.checked >= settings.MERGE_BATCH_SIZE:
            send(Task.MERGE_LAYERS)
            break
    return checked


@task(Task.BUILD_LAYERS, retry=False)
def build_layers() -> int:
    """Start abstraction of settled nodes, layer by layer, and update the layer builds."""
    return abstraction.schedule_abstractions()


@task(Task.COMPOSE_ABSTRACTION)
def compose_abstraction(run_id: int) -> int | None:
    """Retrieve the neighbours of a node's probes and queue its compose job."""
    job = abstraction.start_composition(run_id)
    return job.pk if job else None
