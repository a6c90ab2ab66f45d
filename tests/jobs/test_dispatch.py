"""Validation dispatch with a broker: result ids are gathered and sent in few messages."""

import time

from alexandria.core.tasking import app
from alexandria.jobs.dispatch import ValidationDispatcher
from alexandria.jobs.tasks import validate_results


def test_results_announced_together_go_out_in_one_message(monkeypatch):
    sent = []
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(validate_results, "delay", lambda ids: sent.append(list(ids)))
    dispatcher = ValidationDispatcher(gather_seconds=0.2)
    dispatcher.announce([1, 2])
    dispatcher.announce([3])
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sent == [[1, 2, 3]]


def test_flush_splits_large_batches_and_survives_a_broker_error(monkeypatch, caplog):
    sent = []

    def delay(ids):
        sent.append(list(ids))
        if len(sent) == 1:
            raise ConnectionError("broker down")

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(validate_results, "delay", delay)
    monkeypatch.setattr("alexandria.jobs.dispatch.MAX_IDS_PER_MESSAGE", 2)
    dispatcher = ValidationDispatcher(gather_seconds=60)
    dispatcher.announce([1, 2, 3, 4, 5])
    dispatcher.flush()
    assert sent == [[1, 2], [3, 4], [5]]
    assert "the reconciler will" in caplog.text


def test_without_a_broker_validation_runs_at_once(monkeypatch):
    sent = []
    monkeypatch.setattr(validate_results, "delay", lambda ids: sent.append(list(ids)))
    assert app.conf.task_always_eager
    ValidationDispatcher().announce([7])
    assert sent == [[7]]
