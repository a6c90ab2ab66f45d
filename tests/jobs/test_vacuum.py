"""The job tables' dead rows are reclaimed by a beat task, not left to autovacuum's minute."""

import pytest
from django.db import connection

from alexandria.core.beat import BEAT_SCHEDULE
from alexandria.jobs.models import Job
from alexandria.jobs.tasks import vacuum_job_tables
from tests.jobs.conftest import clip_payload


def _job_table_stats() -> tuple[int, int]:
    """(dead rows, vacuums so far) of the jobs table, as the statistics system has them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this session's counts, now
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_dead_tup, vacuum_count FROM pg_stat_user_tables WHERE relname = %s",
            [Job._meta.db_table],
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_job_table_is_vacuumed_once_it_holds_enough_dead_rows(postgres, settings):
    Job.objects.bulk_create(Job(kind="clip_score", payload=clip_payload()) for _ in range(20))
    Job.objects.update(priority=1)  # a dead version of each row
    dead, vacuums = _job_table_stats()
    assert dead > 0
    settings.JOB_TABLES_VACUUM_MIN_DEAD_ROWS = dead + 1
    assert vacuum_job_tables() == []
    assert _job_table_stats() == (dead, vacuums)
    settings.JOB_TABLES_VACUUM_MIN_DEAD_ROWS = dead
    assert vacuum_job_tables() == [Job._meta.db_table]  # no other table has any
    assert _job_table_stats() == (0, vacuums + 1)


def test_beat_runs_it_every_few_seconds_and_drops_runs_that_waited_longer():
    entry = BEAT_SCHEDULE["vacuum-job-tables"]
    assert entry["task"] == vacuum_job_tables.name
    assert entry["schedule"] <= 10 and entry["options"]["expires"] <= entry["schedule"]
