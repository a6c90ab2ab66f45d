"""Celery app and the server-side tasks of Alexandria's pipeline."""

from tasks.app import app

__all__ = ["app"]
