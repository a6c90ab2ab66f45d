"""The search app's Celery tasks: each takes ids and calls the indexing service."""

from alexandria.core.tasking import Task, task
from alexandria.search.services import indexing, judging


@task(Task.INDEX_ITEMS)
def index_items(item_ids: list[int]) -> int:
    """Bring these items' index entries up to date (upsert visible ones, drop the others)."""
    return indexing.index_items(item_ids).indexed


@task(Task.INDEX_SOURCE_ITEMS)
def index_source_items(source_id: int) -> int:
    """A source's age rating changed: re-index the items grounded in it and those above."""
    return indexing.index_source_items(source_id)


@task(Task.SYNC_INDEX, retry=False)
def sync_index(window_seconds: int = 300) -> int:
    """Re-index recently changed items: the safety net behind the writes' own requests."""
    return indexing.sync_recent_changes(window_seconds)


@task(Task.JUDGE_STANCES, retry=False)
def judge_stances() -> int:
    """Queue judge_stance jobs for neighbouring hypotheses not judged yet (capped per run)."""
    return judging.schedule_stance_judgements().jobs
