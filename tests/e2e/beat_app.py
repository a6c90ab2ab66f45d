"""The production Celery app with the beat schedule compressed for the end-to-end run.

Same tasks and queues as ``tasks`` (the production entry point); only the intervals shrink (a
run lasts minutes, the production schedule thinks in minutes too), so lost messages are
re-dispatched within seconds.
"""

import os

from tasks import app

INTERVAL_S = float(os.environ.get("E2E_BEAT_INTERVAL_S", "4"))

app.conf.beat_schedule = {
    name: {**entry, "schedule": INTERVAL_S} for name, entry in app.conf.beat_schedule.items()
}
