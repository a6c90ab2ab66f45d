"""``--local`` supervision: the real worker process owns a model server process (a fake one,
``fake_model_server.py``, started by the same code that starts llama.cpp), which is killed
mid-job; the node must restart it, finish the job, and not churn leases meanwhile."""

import os
import signal
import subprocess
import time

import pytest

from tests.worker.conftest import TOKEN

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals")

MODULE = "tests.worker.worker_with_fake_model"


def local_node(backend, *extra):
    return (
        "--server", backend.url,
        "--token", TOKEN,
        "--local",
        "--poll-interval", "0.2",
        "--grace-period", "1",
        *extra,
    )  # fmt: skip


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met in time")


def requests_seen(state):
    path = state / "requests"
    return path.read_text().split() if path.exists() else []


def finish(process, timeout):
    """The exit status and output; a node still running after ``timeout`` is killed (-9)."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def stop(process, timeout=20):
    process.send_signal(signal.SIGTERM)
    return finish(process, timeout)


def test_sigkill_mid_job_restarts_the_server_and_finishes_the_job(
    fake_backend, start_worker, tmp_path
):
    fake_backend.lease_seconds = 30
    job_id = fake_backend.add_job("echo_summary", {"text": "three little words"})
    process = start_worker(
        *local_node(fake_backend),
        module=MODULE,
        env={"FAKE_MODEL_ARGS": f"--state {tmp_path} --latency 3"},
    )
    wait_for(lambda: requests_seen(tmp_path))  # the job's request is in the server
    os.kill(int((tmp_path / "run-1.pid").read_text()), signal.SIGKILL)
    fake_backend.wait_until(lambda: fake_backend.jobs[job_id].status == "done", timeout=40)
    code, output = stop(process)
    assert code == 0, output
    assert "model server was killed by signal 9 (SIGKILL); restarting" in output
    assert (tmp_path / "run-2.pid").exists()
    assert fake_backend.jobs[job_id].output["summary"] == "ok"
    # At most the one hand-back of the job it held when the server died; no churn.
    assert len(fake_backend.calls("fail")) <= 1
    assert len(fake_backend.calls("jobs/exchange")) < 60


def test_segfault_mid_job_restarts_the_server_and_reports_the_pause(
    fake_backend, start_worker, tmp_path
):
    fake_backend.lease_seconds = 30
    job_id = fake_backend.add_job("echo_summary", {"text": "a b"})
    process = start_worker(
        *local_node(fake_backend),
        module=MODULE,
        env={"FAKE_MODEL_ARGS": f"--state {tmp_path} --segv-runs 1"},
    )
    fake_backend.wait_until(lambda: fake_backend.jobs[job_id].status == "done", timeout=40)
    code, output = stop(process)
    assert code == 0, output
    assert "killed by signal 11 (SIGSEGV)" in output
    assert "segmentation fault in the fake model" in output  # the tail of its log
    assert requests_seen(tmp_path)[:1] == ["1"] and "2" in requests_seen(tmp_path)
    assert len(fake_backend.calls("fail")) <= 1
    states = [status["state"] for status in fake_backend.statuses]
    assert states[:1] == ["paused"] and states[-1] == "working"
    assert "SIGSEGV" in fake_backend.statuses[0]["reason"]


def test_gives_up_after_the_configured_crashes_without_churning(
    fake_backend, start_worker, tmp_path
):
    fake_backend.lease_seconds = 30
    job_id = fake_backend.add_job("echo_summary", {"text": "never answered"})
    process = start_worker(
        *local_node(fake_backend, "--model-max-crashes", "3", "--model-crash-window", "300"),
        module=MODULE,
        env={"FAKE_MODEL_ARGS": f"--state {tmp_path} --segv-runs 1,2,3,4,5"},
    )
    code, output = finish(process, 60)
    assert code == 4, output
    assert "3 crashes within 300s, giving up" in output
    assert len(list(tmp_path.glob("run-*.pid"))) == 3
    # The job went back to the queue untouched, handed back once per crash at most.
    job = fake_backend.jobs[job_id]
    assert (job.status, job.attempts) == ("queued", 0)
    assert len(fake_backend.calls("fail")) <= 3
    assert len(fake_backend.calls("jobs/exchange")) < 40
    assert fake_backend.statuses[-1]["state"] == "stopped"
    assert "giving up" in fake_backend.statuses[-1]["reason"]
