"""The releases app's Celery task."""

import logging

from alexandria.core.tasking import Task, task
from alexandria.releases.selectors import Slice, full_release_due
from alexandria.releases.services import write_release as write

logger = logging.getLogger(__name__)


@task(Task.WRITE_RELEASE, retry=False)
def write_release() -> str:
    """The weekly release of everything: a diff from last week's, and a full snapshot every
    four weeks (or when there is none on disk), so a reader applies at most three diffs."""
    release = write(diff=not full_release_due(Slice()))
    logger.info("wrote release %s (%s) at %s", release.release_id, release.kind, release.path)
    return release.release_id
