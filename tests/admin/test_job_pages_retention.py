"""Django admin's job pages show no source text: a job stores spans of its source, and a
result's output is shown only once trimmed (copyright retention)."""

import html
import re

import pytest

from alexandria.jobs.models import Job, JobResult
from alexandria.pipeline.services.planning import plan_analysis
from alexandria.sources.services import Citation, chunk_source, submit_text
from tests.pipeline.documents import CURIE, CURIE_TITLE

RUN_WORDS = 6


def _word_runs(text: str, n: int) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _shown_runs(page: bytes, source_runs: set[str]) -> set[str]:
    shown = " ".join(re.findall(r"\w+", html.unescape(page.decode()).lower()))
    return {run for run in source_runs if run in shown}


@pytest.fixture
def planned_jobs(world) -> list[Job]:
    source = submit_text(
        CURIE, citation=Citation(title=CURIE_TITLE), submitted_by=world.member
    ).source
    chunk_source(source.pk)
    plan_analysis(source.pk)
    return list(Job.objects.filter(source=source))


def test_job_pages_and_an_undecided_result_show_no_source_text(planned_jobs, staff_client, world):
    source_runs = _word_runs(CURIE, RUN_WORDS)
    extract = next(job for job in planned_jobs if job.kind == "extract_graph")
    sentence = CURIE.split(". ")[0]
    result = JobResult.objects.create(
        job=extract,
        node=world.node,
        lease=world.lease,
        output={"entities": [], "facts": [{"anchor": sentence}]},
        output_sha256="0" * 64,
    )
    pages = [f"/admin/jobs/job/{job.pk}/change/" for job in planned_jobs]
    pages += ["/admin/jobs/job/", f"/admin/jobs/jobresult/{result.pk}/change/"]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert not _shown_runs(response.content, source_runs), url
