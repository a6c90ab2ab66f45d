"""Hands submitted results to validation.

Publishing one Celery message costs more CPU than the rest of a submit request, so each web
process gathers result ids for a moment and sends them in one message. The database stays the
truth: results a process took but never announced (it died in between) are still pending, and
the reconciler (``Task.RECONCILE_VALIDATION``) dispatches them.
"""

import atexit
import logging
import os
import threading
import time

from alexandria.core.tasking import Task, app, send

log = logging.getLogger(__name__)

# One message costs about 0.9 ms of CPU (a send on the Redis broker, measured);
# a busy web process sends at most four a second, and validation starts at most this late.
GATHER_SECONDS = 0.25
MAX_IDS_PER_MESSAGE = 256


class ValidationDispatcher:
    def __init__(self, gather_seconds: float = GATHER_SECONDS):
        self.gather_seconds = gather_seconds
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._has_pending = threading.Event()
        self._owner_pid: int | None = None

    def announce(self, result_ids: list[int]) -> None:
        """Queue these results for validation (called once their transaction committed)."""
        if app.conf.task_always_eager:  # no broker (tests, the embedded default): run now
            send(Task.VALIDATE_RESULTS, result_ids)
            return
        with self._lock:
            if self._owner_pid != os.getpid():  # first use in this process (or after a fork)
                self._owner_pid = os.getpid()
                self._pending = []
                threading.Thread(target=self._run, name="validation-dispatch", daemon=True).start()
            self._pending.extend(result_ids)
            self._has_pending.set()

    def flush(self) -> None:
        """Send what was gathered, in messages of at most MAX_IDS_PER_MESSAGE ids."""
        with self._lock:
            ids, self._pending = self._pending, []
            self._has_pending.clear()
        for start in range(0, len(ids), MAX_IDS_PER_MESSAGE):
            chunk = ids[start : start + MAX_IDS_PER_MESSAGE]
            try:
                send(Task.VALIDATE_RESULTS, chunk)
            except Exception:
                log.exception("%d results not sent to validation; the reconciler will", len(chunk))

    def _run(self) -> None:
        while True:
            self._has_pending.wait()
            time.sleep(self.gather_seconds)
            self.flush()


dispatcher = ValidationDispatcher()
atexit.register(dispatcher.flush)
