import asyncio

from rich.console import Console

from tests.worker.echo_kind import ECHO_SUMMARY
from worker.api import BackendClient, Lease
from worker.progress import MAX_LEASE_ROWS, NodeView
from worker.runtime import ActiveJob, NodeRuntime, Pause, RuntimeConfig


def lease(job_id):
    return Lease(f"lease-{job_id:04d}-xyz", job_id, "echo_summary", "1", {}, 30, "2030-01-01")


def render(view) -> str:
    console = Console(record=True, width=200)
    console.print(view)
    return console.export_text()


def test_view_shows_counters_and_current_leases():
    async def build():
        backend = BackendClient("http://127.0.0.1:1", "t")
        runtime = NodeRuntime(backend, {}, [ECHO_SUMMARY], RuntimeConfig())
        await backend.aclose()
        return runtime

    runtime = asyncio.run(build())
    runtime.stats.done, runtime.stats.failed = 7, 2
    runtime.stats.add_tokens(100, 50)
    for job_id in range(1, MAX_LEASE_ROWS + 3):
        runtime.active[f"lease-{job_id}"] = ActiveJob(lease(job_id))
    text = render(NodeView(runtime, "http://backend"))
    assert "working" in text
    assert "done 7   failed 2" in text
    assert "tokens 100+50" in text
    assert "150.0 tok/s" in text  # the first second counts as a whole one
    assert "lease-00" in text and "echo_summary" in text
    assert "2 more" in text
    runtime.paused["llm"] = Pause("model server was killed by signal 11", probe_at=0.0)
    assert "paused: model server was killed by signal 11" in render(NodeView(runtime, "x"))
    runtime.request_shutdown()
    assert "stopping" in render(NodeView(runtime, "http://backend"))
