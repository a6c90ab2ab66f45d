"""A real extraction with llama.cpp's OpenAI-compatible server and the bundled SmolLM2-135M.

The tiny model's facts are mostly poor; what must hold is the contract: its reply is
schema-valid JSON (constrained decoding), the backend judges it, and whatever it stores
is anchored exactly in the source.
"""

import importlib.util

import pytest

from alexandria.jobs.models import JobResult
from jobkinds import get_kind
from tests.pipeline.documents import CURIE, CURIE_TITLE
from tests.pipeline.driving import node_payload, run_job, submit_document
from tests.pipeline.scripted import run_with_llm
from tests.support.anchors import assert_anchors_verify_within_limits
from worker.results import RunnerUnavailableError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python[server] is not installed (pip install 'alexandria[local-llm]')",
    ),
]


@pytest.fixture(scope="module")
def local_model():
    from worker.local_llm import LocalModelError, start_local_model

    try:
        server = start_local_model(n_ctx=4096)
    except LocalModelError as exc:
        pytest.skip(f"the bundled model cannot start: {exc}")
    yield server
    server.stop()


def test_real_extraction_is_judged_and_anchored(member, node, local_model):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = source.jobs.filter(kind="extract_graph").order_by("pk").first()

    try:
        output = run_with_llm(local_model.base_url, "extract_graph", node_payload(job))
    except RunnerUnavailableError:
        crashed = local_model.process.poll()
        if crashed is None:
            raise
        # e.g. -4 (SIGILL): the installed llama.cpp build uses CPU instructions this host lacks.
        pytest.skip(f"the llama.cpp server died while generating (exit status {crashed})")

    assert get_kind("extract_graph").output_errors(output) == []
    result = run_job(node, job, output)
    assert result.status in (JobResult.Status.VALID, JobResult.Status.INVALID)
    if result.status == JobResult.Status.INVALID:
        assert result.rejection_reasons
    assert_anchors_verify_within_limits(source, CURIE)
