"""Celery's entry point: ``celery -A tasks worker`` / ``celery -A tasks beat``.

The app with its declared queues and tasks lives in ``alexandria.core.tasking``, the beat
schedule in ``alexandria.core.beat``, and each task next to the services it calls
(``alexandria.<app>.tasks``).
"""

from alexandria.core.beat import app

__all__ = ["app"]
