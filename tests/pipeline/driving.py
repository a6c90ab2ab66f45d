"""Drive pipeline jobs as a node would, through the job services (lease → submit)."""

import contextlib
from collections.abc import Callable
from typing import Any

from alexandria.jobs.errors import OutputRejected
from alexandria.jobs.models import Job, JobResult, WorkerNode
from alexandria.jobs.services.leasing import lease_jobs
from alexandria.jobs.services.payloads import hydrate_payloads
from alexandria.jobs.services.submission import submit_result
from alexandria.sources.models import Source
from alexandria.sources.services import Citation, submit_text

Producer = Callable[[str, dict[str, Any]], dict[str, Any]]


def submit_document(text: str, title: str, member) -> Source:
    """Submit a text; eager Celery chunks it and plans its first jobs."""
    outcome = submit_text(text, citation=Citation(title=title), submitted_by=member)
    outcome.source.refresh_from_db()
    return outcome.source


def node_payload(job: Job) -> dict[str, Any]:
    """The payload as a node reads it: the stored spans hydrated from the source's text."""
    (payload,) = hydrate_payloads([job.payload])
    assert payload is not None, "the source's text is purged"
    return payload


def run_job(node: WorkerNode, job: Job, output: dict[str, Any]) -> JobResult | None:
    """Lease exactly ``job`` and submit ``output`` for it (validated eagerly)."""
    Job.objects.filter(pk=job.pk).update(priority=30000)
    granted = lease_jobs(node, max_jobs=1, kinds=[job.kind])
    assert granted and granted[0].job_id == job.pk, "the job to run is not next in the queue"
    try:
        outcome = submit_result(node, granted[0].lease_id, output=output, stats={})
    except OutputRejected:
        return None
    return JobResult.objects.get(pk=outcome.result_id)


def drain(node: WorkerNode, produce: Producer, *, kinds: list[str] | None = None) -> int:
    """Lease and run jobs until none is left; how many ran."""
    ran = 0
    while True:
        granted = lease_jobs(node, max_jobs=1, kinds=kinds)
        if not granted:
            return ran
        output = produce(granted[0].kind, granted[0].payload)
        with contextlib.suppress(OutputRejected):
            submit_result(node, granted[0].lease_id, output=output, stats={})
        ran += 1


def run_next_job_over_http(client, produce: Producer) -> str | None:
    """Lease one job through the API with the node's ``client``, as a node does, and submit what
    ``produce`` makes of it; its kind, or None when nothing was left to lease."""
    reply = client.post("/api/v1/jobs/lease", {"max_jobs": 1}, format="json")
    assert reply.status_code == 200, reply.content
    if not reply.json()["jobs"]:
        return None
    (leased,) = reply.json()["jobs"]
    submitted = client.post(
        f"/api/v1/leases/{leased['lease_id']}/submit",
        {
            "output": produce(leased["kind"], leased["payload"]),
            "stats": {"completion_tokens": 10, "elapsed_s": 1.0},
        },
        format="json",
    )
    assert submitted.status_code in (200, 201, 202), submitted.content
    return leased["kind"]
