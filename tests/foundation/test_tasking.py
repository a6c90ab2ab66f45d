"""Every declared task is registered under its name, routed to its queue, and every task the
apps register is declared; beat runs only declared tasks."""

from alexandria.core.beat import BEAT_SCHEDULE
from alexandria.core.tasking import TASK_QUEUES, Queue, Task, app, registered


def test_every_declared_task_is_registered_and_routed_to_its_queue():
    for name in Task:
        assert registered(name).name == name.value
        route = app.amqp.router.route({}, name.value)
        assert route["queue"].name == name.queue.value
    assert set(TASK_QUEUES) == set(Task)
    assert {queue.value for queue in Queue} == {q.name for q in app.conf.task_queues}


def test_the_apps_register_no_undeclared_task():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert ours == {name.value for name in Task}


def test_beat_runs_declared_tasks_only():
    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} <= {name.value for name in Task}
    assert app.conf.beat_schedule == BEAT_SCHEDULE
