"""The real worker process (``worker.cli.main``) against the fake backend and LLM server."""

import signal
import subprocess
import sys
import time

import pytest

from tests.support.fake_openai import FakeReply, reject_response_formats
from tests.worker.conftest import REPO_ROOT, TOKEN
from tests.worker.echo_kind import valid_reply
from worker.local_llm import INSTALL_HINT


def node_args(backend, llm_server, *extra):
    return (
        "--server", backend.url,
        "--token", TOKEN,
        "--llm-base-url", llm_server.base_url,
        "--poll-interval", "0.1",
        *extra,
    )  # fmt: skip


def finish(process, timeout=30):
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def test_once_processes_one_batch_and_exits_0(fake_backend, fake_openai, start_worker):
    fake_openai.responder = valid_reply
    for _ in range(3):
        fake_backend.add_job("echo_summary", {"text": "one two"})
    process = start_worker(*node_args(fake_backend, fake_openai, "--once", "--batch", "2"))
    code, output = finish(process)
    assert code == 0, output
    assert [job.status for job in fake_backend.jobs.values()] == ["done", "done", "queued"]
    assert fake_backend.jobs[1].output == {"summary": "ok", "words": 3}
    assert fake_backend.jobs[1].stats["model"] == "fake-model"
    assert "2 done, 0 failed" in output


def test_sigterm_mid_job_releases_the_lease(fake_backend, fake_openai, start_worker):
    fake_openai.latency = 60
    fake_openai.responder = valid_reply
    job_id = fake_backend.add_job("echo_summary", {"text": "slow"})
    process = start_worker(*node_args(fake_backend, fake_openai, "--grace-period", "0.5"))
    fake_openai.wait_for_requests(1, timeout=20)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, output = finish(process)
    assert code == 0, output
    assert time.monotonic() - started < 10
    (fail,) = fake_backend.calls("fail")
    assert fail.body == {"error": "node shutting down", "release": True}
    job = fake_backend.jobs[job_id]
    assert (job.status, job.attempts) == ("queued", 0)
    assert not any(fake_backend.handed_in())


def test_sigint_lets_a_nearly_done_job_finish(fake_backend, fake_openai, start_worker):
    fake_openai.latency = 1
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "quick"})
    process = start_worker(*node_args(fake_backend, fake_openai, "--grace-period", "10"))
    fake_openai.wait_for_requests(1, timeout=20)
    process.send_signal(signal.SIGINT)
    code, output = finish(process)
    assert code == 0, output
    assert fake_backend.jobs[1].status == "done"
    assert fake_backend.calls("fail") == []


def test_repairs_invalid_output_and_falls_back_from_json_schema(
    fake_backend, fake_openai, start_worker
):
    replies = iter(['{"summary": "missing words"}', '{"summary": "fixed", "words": 2}'])
    fake_openai.responder = reject_response_formats({"json_schema"}, lambda _: next(replies))
    fake_backend.add_job("echo_summary", {"text": "a b"})
    code, output = finish(start_worker(*node_args(fake_backend, fake_openai, "--once")))
    assert code == 0, output
    assert fake_backend.jobs[1].output == {"summary": "fixed", "words": 2}
    formats = [(r.get("response_format") or {}).get("type") for r in fake_openai.requests]
    assert formats == ["json_schema", "json_object", "json_object"]


def test_output_that_stays_invalid_is_reported_as_failed(fake_backend, fake_openai, start_worker):
    fake_openai.responder = lambda _: FakeReply("I cannot do that.")
    fake_backend.add_job("echo_summary", {"text": "a b"})
    code, output = finish(start_worker(*node_args(fake_backend, fake_openai, "--once")))
    assert code == 0, output
    (fail,) = fake_backend.calls("fail")
    assert fail.body["release"] is False
    assert fail.body["error"].startswith("model output invalid after one repair")
    assert fake_backend.jobs[1].attempts == 1


def test_backend_5xx_is_retried(fake_backend, fake_openai, start_worker):
    fake_openai.latency = 0.5
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})
    fake_backend.inject("POST", "/api/v1/jobs/exchange", 503, times=2)
    process = start_worker(*node_args(fake_backend, fake_openai, "--once"))
    fake_openai.wait_for_requests(1, timeout=20)
    fake_backend.inject("POST", "/api/v1/jobs/exchange", 502)  # the hand-in
    code, output = finish(process)
    assert code == 0, output
    assert fake_backend.jobs[1].status == "done"
    lease_id = fake_backend.jobs[1].lease_id
    assert fake_backend.handed_in() == [[], [], [], [lease_id], [lease_id]]
    exchanges = fake_backend.calls("jobs/exchange")
    # Exponential backoff: the second pause is longer than a zero-wait retry would be.
    assert exchanges[2].received_at - exchanges[1].received_at >= 0.5


def test_429_retry_after_is_honoured(fake_backend, fake_openai, start_worker):
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})
    fake_backend.inject("POST", "/api/v1/jobs/exchange", 429, headers={"Retry-After": "2"})
    code, output = finish(start_worker(*node_args(fake_backend, fake_openai, "--once")))
    assert code == 0, output
    first, second, _hand_in = fake_backend.calls("jobs/exchange")
    assert second.received_at - first.received_at >= 2


def test_refused_token_exits_3(fake_backend, fake_openai, start_worker):
    args = node_args(fake_backend, fake_openai, "--once")
    code, output = finish(start_worker(*[a if a != TOKEN else "revoked" for a in args]))
    assert code == 3
    assert "refused this node's token" in output


def test_token_revoked_while_running_exits_3(fake_backend, fake_openai, start_worker):
    fake_openai.latency = 60
    fake_openai.responder = valid_reply
    fake_backend.add_job("echo_summary", {"text": "a"})
    process = start_worker(*node_args(fake_backend, fake_openai))
    fake_openai.wait_for_requests(1, timeout=20)
    fake_backend.revoke(TOKEN)
    code, output = finish(process)
    assert code == 3, output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no backend: pass --server"),
        (("--server", "http://127.0.0.1:1"), "no node token"),
        (("--server", "ftp://x", "--token", "t"), "must be an http(s) URL"),
        (("--server", "http://x", "--token", "t", "--batch", "65"), "--batch must be between"),
        (("--server", "http://x", "--token", "t", "--kinds", "nope"), "unknown job kind 'nope'"),
        (("--server", "http://x", "--token", "t", "--concurrency", "0"), "--concurrency"),
    ],
)
def test_bad_configuration_exits_2(start_worker, args, message):
    code, output = finish(start_worker(*args))
    assert code == 2
    assert message in output


def test_unreachable_llm_server_exits_2(fake_backend, start_worker):
    args = ("--server", fake_backend.url, "--token", TOKEN, "--llm-base-url",
            "http://127.0.0.1:9/v1", "--once")  # fmt: skip
    code, output = finish(start_worker(*args))
    assert code == 2
    assert "cannot list models" in output


def test_clip_kinds_without_open_clip_exit_2(start_worker):
    args = ("--server", "http://x", "--token", "t", "--kinds", "clip_score")
    code, output = finish(start_worker(*args, hide_modules=("open_clip",)))
    assert code == 2
    assert "pip install 'alexandria[clip]'" in output


def test_local_without_llama_cpp_exits_2(fake_backend, start_worker):
    args = ("--server", fake_backend.url, "--token", TOKEN, "--local")
    code, output = finish(start_worker(*args, hide_modules=("llama_cpp",)))
    assert code == 2
    assert INSTALL_HINT in output


def test_worker_imports_without_django():
    script = (
        "import sys\n"
        "sys.modules['django'] = None  # any 'import django' now fails\n"
        "import worker.cli, worker.runtime, worker.llm, worker.clip, jobkinds\n"
        "assert not any(m.split('.')[0] in ('django', 'alexandria', 'tasks', 'bot') "
        "for m in sys.modules if sys.modules[m] is not None)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
