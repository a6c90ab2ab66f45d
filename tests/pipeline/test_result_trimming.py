"""Copyright retention in the jobs of a source: payloads keep spans, never text, at every stage,
and a result's output is trimmed of what quotes the source once its job is decided (after
replication has compared it), valid or rejected. Admin shows neither."""

import contextlib
import json
import re

import pytest

from alexandria.jobs.errors import OutputRejected
from alexandria.jobs.models import Job, JobResult, WorkerNode
from alexandria.jobs.services.leasing import lease_jobs
from alexandria.jobs.services.nodes import register_node
from alexandria.jobs.services.payloads import SPAN
from alexandria.jobs.services.submission import submit_result
from alexandria.knowledge.models import Anchor
from alexandria.retention.audit import string_leaves
from alexandria.sources.models import Source
from jobkinds import get_kind
from tests.pipeline.documents import CURIE, CURIE_GRAPH, CURIE_TITLE, MARIE, attribute
from tests.pipeline.driving import node_payload, run_job, submit_document
from tests.pipeline.scripted import KIND_NAMES, ScriptedModel

pytestmark = pytest.mark.django_db(transaction=True)

# The scripted model's result for the chunk that says where Curie was born.
BORN = {
    "entities": [MARIE],
    "facts": [{**CURIE_GRAPH[1].fact, "temporal_id": 1}],
}


def quoting(value, words: int) -> list[str]:
    """The strings of ``value`` that repeat ``words`` consecutive words of CURIE."""

    def grams(text: str) -> set[tuple[str, ...]]:
        tokens = [w.casefold() for w in re.findall(r"\w+", text)]
        return {tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}

    source = grams(CURIE)
    return [s for s in string_leaves(value) if grams(s) & source]


def drive(node: WorkerNode, model: ScriptedModel) -> list[str]:
    """Lease and run every job as a node would, checking before each lease that no stored
    payload quotes five consecutive words of the text; the kinds run."""
    ran = []
    while True:
        for job in Job.objects.all():
            assert quoting(job.payload, 5) == [], (job.kind, job.payload)
        granted = lease_jobs(node, max_jobs=1)
        if not granted:
            return ran
        (grant,) = granted
        if grant.kind == "derive":  # the node reads each fact's anchor whole
            for fact in grant.payload["facts"]:
                anchor = Anchor.objects.get(pk=fact["anchor_id"])
                assert fact["fragment"] == CURIE[anchor.start : anchor.end]
        messages = get_kind(grant.kind).build_messages(grant.payload)
        output = json.loads(model({"messages": messages}))
        with contextlib.suppress(OutputRejected):
            submit_result(node, grant.lease_id, output=output, stats={})
        ran.append(grant.kind)


def graph_job(source: Source, containing: str) -> Job:
    return next(
        job
        for job in source.jobs.filter(kind="extract_graph")
        if containing in node_payload(job)["chunk"]
    )


def test_no_job_stores_the_text_and_every_result_ends_trimmed(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    ran = drive(node, ScriptedModel(facts=CURIE_GRAPH))
    assert set(ran) == set(KIND_NAMES)
    source.refresh_from_db()
    assert source.status == Source.Status.ANALYSED and source.is_purged

    results = JobResult.objects.filter(job__source=source)
    assert results.count() == len(ran)
    spans = set(Anchor.objects.filter(source=source).values_list("start", "end"))
    for result in results:
        assert "$trimmed" in result.output, result.job.kind
        assert quoting(result.output, 12) == []
        for fact in result.output.get("facts", []):
            if result.job.kind == "extract_graph":
                assert tuple(fact["anchor"][SPAN]) in spans
    for job in Job.objects.filter(source=source):
        assert quoting(job.payload, 5) == []


def test_replication_compares_whole_outputs_then_trims_them(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    WorkerNode.objects.filter(pk=node.pk).update(trust=0.0)  # its results are replicated
    checker = register_node(member, name="checker", capabilities={"kinds": KIND_NAMES}).node
    job = graph_job(source, "born in Warsaw")
    first = run_job(node, job, BORN)
    assert first.status == JobResult.Status.VALID
    # Undecided: the output stays whole, for the replica's result to be compared with.
    assert first.output == BORN
    (replica,) = Job.objects.filter(replica_of=job)
    assert replica.payload == job.payload
    assert node_payload(replica) == node_payload(job)

    second = run_job(checker, replica, BORN)
    first.refresh_from_db()
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.facts.count() == 1
    anchor = job.facts.get().anchor
    for result in (first, second):
        result.refresh_from_db()
        assert result.status == JobResult.Status.VALID
        (fact,) = result.output["facts"]
        assert fact["anchor"] == {SPAN: [anchor.start, anchor.end]}
        assert "She was born in Warsaw" not in json.dumps(result.output)


def test_a_rejected_result_is_trimmed_at_once(member, node):
    source = submit_document(CURIE, CURIE_TITLE, member)
    job = graph_job(source, "pioneering research")
    copied = node_payload(job)["chunk"]
    forged = {
        "entities": [MARIE],
        "facts": [
            {**attribute("Marie Curie", "won", "three Nobel prizes", "Curie won three Nobels"),
             "temporal_id": 1},
            {**attribute("Marie Curie", "biography", copied, copied[:60]), "temporal_id": 2},
        ],
    }  # fmt: skip
    result = run_job(node, job, forged)
    assert result.status == JobResult.Status.INVALID
    invented, copying = result.output["facts"]
    assert invented["anchor"] == {"$unlocated": "below_threshold"}
    assert SPAN in copying["anchor"]
    assert set(copying["value"]) == {"$dropped"}
    assert quoting(result.output, 5) == []
    assert result.rejection_reasons


def test_admin_job_pages_show_no_source_text(member, node, staff_client):
    source = submit_document(CURIE, CURIE_TITLE, member)
    WorkerNode.objects.filter(pk=node.pk).update(trust=0.0)
    checker = register_node(member, name="checker", capabilities={"kinds": KIND_NAMES}).node
    job = graph_job(source, "born in Warsaw")
    result = run_job(node, job, BORN)

    def page(url: str) -> str:
        content = staff_client.get(url).content.decode()
        assert "born in Warsaw" not in content and "physicist and chemist" not in content
        return content

    assert "$span" in page(f"/admin/jobs/job/{job.pk}/change/")
    # Undecided, the output may still quote the source: it is not shown.
    assert "shown once the job is decided" in page(f"/admin/jobs/jobresult/{result.pk}/change/")
    run_job(checker, Job.objects.get(replica_of=job), BORN)
    decided = page(f"/admin/jobs/jobresult/{result.pk}/change/")
    assert "$trimmed" in decided and "$span" in decided
