"""Vector index, merging and abstraction layers. Each task takes ids and calls a service."""

from celery import shared_task

RETRY_POLICY = {
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="tasks.layers.index_items", **RETRY_POLICY)
def index_items(item_ids: list[int]) -> int:
    """Bring these items' index entries up to date (upsert visible ones, drop the others)."""
    from alexandria.search.services.indexing import index_items as index

    return index(item_ids)


@shared_task(name="tasks.layers.sync_index", **RETRY_POLICY)
def sync_index(window_seconds: int = 300) -> int:
    """Re-index recently changed items (status changes made without signals)."""
    from alexandria.search.services.indexing import sync_recent_changes

    return sync_recent_changes(window_seconds)


@shared_task(name="tasks.layers.merge_layers", **RETRY_POLICY)
def merge_layers() -> int:
    """Compare every layer's unchecked items with the layer; re-queues itself while more wait."""
    from alexandria.search import conf
    from alexandria.search.services.merging import layers_awaiting_merge, run_merge

    checked = 0
    for layer in layers_awaiting_merge():
        report = run_merge(layer)
        checked += report.checked
        if report.checked >= conf.get("MERGE_BATCH_SIZE"):
            merge_layers.delay()
            break
    return checked


@shared_task(name="tasks.layers.build_layers", **RETRY_POLICY)
def build_layers() -> int:
    """Start abstraction of settled nodes, layer by layer, and update the layer builds."""
    from alexandria.search.services.abstraction import schedule_abstractions

    return schedule_abstractions()


@shared_task(name="tasks.layers.compose_abstraction", **RETRY_POLICY)
def compose_abstraction(run_id: int) -> int | None:
    """Retrieve the neighbours of a node's probes and queue its compose job."""
    from alexandria.search.services.abstraction import start_composition

    job = start_composition(run_id)
    return job.pk if job else None
