"""Acceptance: the real ``alexandria-worker`` process against the real backend over HTTP.

A member submits a text through the bot API; the eager pipeline queues its describe and
rate_age jobs; volunteer nodes registered through the API lease, run (on scripted
OpenAI-compatible servers), heartbeat and submit them; validation, replication and credit run
in the backend as in production. Runs on PostgreSQL when DATABASE_URL points there.
"""

import time

from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, Lease
from alexandria.pipeline.models import SourceProfile
from tests.integration.conftest import TEXT, ProfileModel, profile_job
from tests.support.fake_openai import FakeOpenAIServer

PROFILE_KINDS = ("describe", "rate_age")
# One job at a time: on SQLite the live server's threads share one connection.
ONE_AT_A_TIME = ("--concurrency", "1")
# Enough model latency that the claimed tokens per second stay plausible (no flagging).
LLM_LATENCY = 0.1
COLLECTIONS = ("red", "green", "blue", "amber", "violet", "silver")


def test_untrusted_results_are_verified_by_another_contributor_and_both_credited(
    register_volunteer, submitted_source, start_worker, fake_openai
):
    alice = register_volunteer("420000000000000011")
    bob = register_volunteer("420000000000000012")
    primaries = {kind: profile_job(submitted_source, kind) for kind in PROFILE_KINDS}
    fake_openai.responder = ProfileModel()
    fake_openai.latency = LLM_LATENCY
    # Bob's model words its summary differently and rates one step stricter: still agreement.
    bobs_model = ProfileModel(
        summary="The life of a Nobel laureate who studied radioactivity.", age_rating=6
    )
    # Both jobs leased in one batch; the second waits for the model slot.
    kinds = ("--kinds", ",".join(PROFILE_KINDS), "--batch", "2", "--prefetch", "1", *ONE_AT_A_TIME)

    first = start_worker(alice, fake_openai.base_url, "--once", *kinds)
    assert first.finish() == 0, first.output
    assert "2 done, 0 failed" in first.output

    # New nodes are untrusted: each result waits for a replica run by another contributor.
    for kind, primary in primaries.items():
        primary.refresh_from_db()
        assert primary.status == Job.Status.VALIDATING, kind
        (replica,) = primary.replicas.all()
        assert replica.status == Job.Status.QUEUED
    again = start_worker(alice, fake_openai.base_url, "--once", *kinds)
    assert again.finish() == 0, again.output
    assert "0 done, 0 failed" in again.output, "a contributor must not verify their own result"

    with FakeOpenAIServer(bobs_model, latency=LLM_LATENCY) as bobs_llm:
        second = start_worker(bob, bobs_llm.base_url, "--once", *kinds)
        assert second.finish() == 0, second.output
    assert "2 done, 0 failed" in second.output

    credited = set()
    for kind, primary in primaries.items():
        primary.refresh_from_db()
        (replica,) = primary.replicas.all()
        assert (primary.status, replica.status) == (Job.Status.DONE, Job.Status.DONE), kind
        results = {r.job_id: r for r in JobResult.objects.filter(job__in=[primary, replica])}
        assert {(job_id, r.node_id, r.status) for job_id, r in results.items()} == {
            (primary.pk, alice.node_id, JobResult.Status.VALID),
            (replica.pk, bob.node_id, JobResult.Status.VALID),
        }
        credited |= {
            (entry.job_id, entry.node_id, entry.contributor_id, entry.basis)
            for entry in CreditEntry.objects.filter(job__in=[primary, replica])
        }
        assert primary.events.count() == replica.events.count() == 0
    assert credited == {
        (job.pk, volunteer.node_id, volunteer.contributor_id, CreditEntry.Basis.AGREED)
        for primary in primaries.values()
        for job, volunteer in ((primary, alice), (primary.replicas.get(), bob))
    }
    assert CreditEntry.objects.count() == 4  # once per (job, node), nothing for anyone else
    assert all(entry.amount > 0 for entry in CreditEntry.objects.all())

    for volunteer in (alice, bob):
        node = volunteer.node
        assert (node.valid_results, node.invalid_results, node.is_flagged) == (2, 0, False)
        assert node.trust > 0  # agreement moved both towards trusted

    # The canonical result is the earliest agreeing one: Alice's.
    profile = SourceProfile.objects.get(source=submitted_source)
    assert profile.describe_job_id == primaries["describe"].pk
    assert (profile.category, profile.summary) == ("physics", ProfileModel.summary)
    assert (profile.rate_age_job_id, profile.age_rating) == (primaries["rate_age"].pk, 0)
    assert len(fake_openai.requests) == len(bobs_llm.requests) == 2
    # The nodes never ran the kinds they did not register for.
    graph_jobs = Job.objects.filter(source=submitted_source, kind="extract_graph")
    assert set(graph_jobs.values_list("status", flat=True)) == {Job.Status.QUEUED}


def test_job_of_a_killed_worker_is_taken_over_once_its_lease_expires(
    settings, register_volunteer, submitted_source, start_worker, fake_openai
):
    settings.LEASE_MIN_SECONDS = 2
    settings.LEASE_CHARS_PER_SECOND = 10**6  # the TTL is the minimum, whatever the job's size
    job = profile_job(submitted_source, "describe")
    crashing = register_volunteer("420000000000000021", kinds=("describe",), trust=1.0)
    rescuer = register_volunteer("420000000000000022", kinds=("describe",), trust=1.0)
    model = ProfileModel(slow_first=120)  # the first worker never hears back from its model
    fake_openai.responder = model
    fake_openai.latency = LLM_LATENCY
    args = ("--kinds", "describe", "--batch", "1", "--prefetch", "0", *ONE_AT_A_TIME)

    doomed = start_worker(crashing, fake_openai.base_url, *args)
    fake_openai.wait_for_requests(1, timeout=30)  # leased, and waiting for its model
    doomed.kill()

    # Started at once: it finds nothing to lease until the dead node's lease runs out.
    rescue = start_worker(rescuer, fake_openai.base_url, *args)
    rescue.wait_for_line(rf"job {job.pk} describe: \w+ in ", timeout=60)
    assert rescue.stop() == 0, rescue.output
    assert "1 done, 0 failed" in rescue.output
    assert len(fake_openai.requests) == 2  # one per worker: the job ran to the end once

    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.DONE, 1)
    leases = job.leases.order_by("leased_at")
    assert [(lease.node_id, lease.state) for lease in leases] == [
        (crashing.node_id, Lease.State.EXPIRED),
        (rescuer.node_id, Lease.State.SUBMITTED),
    ]
    (expired,) = job.events.all()
    assert (expired.kind, expired.node_id) == (JobEvent.Kind.EXPIRED, crashing.node_id)
    (result,) = JobResult.objects.filter(job=job)
    assert (result.node_id, result.status) == (rescuer.node_id, JobResult.Status.VALID)
    assert not job.replicas.exists()  # a trusted node's result is used as is
    (credit,) = CreditEntry.objects.filter(job=job)
    assert (credit.node_id, credit.contributor_id, credit.basis) == (
        rescuer.node_id,
        rescuer.contributor_id,
        CreditEntry.Basis.TRUSTED,
    )
    assert not CreditEntry.objects.filter(node_id=crashing.node_id).exists()
    profile = SourceProfile.objects.get(source=submitted_source)
    assert (profile.describe_job_id, profile.summary) == (job.pk, model.summary)


def test_two_busy_workers_complete_every_job_exactly_once(
    postgres, register_volunteer, submit_source, start_worker, fake_openai
):
    """Several jobs at once per worker: concurrent requests need PostgreSQL (on SQLite the
    live server's threads would share the test's one in-memory connection)."""
    sources = [
        submit_source(f"Curie, {name}", f"{TEXT} This copy belongs to the {name} collection.")
        for name in COLLECTIONS
    ]
    jobs = list(Job.objects.filter(source__in=sources, kind__in=PROFILE_KINDS))
    assert len(jobs) == 2 * len(sources)
    volunteers = [register_volunteer(f"42000000000000004{n}", trust=1.0) for n in range(2)]
    fake_openai.responder = ProfileModel()
    fake_openai.latency = 0.3
    args = ("--kinds", ",".join(PROFILE_KINDS), "--concurrency", "4", "--batch", "2")
    workers = [start_worker(v, fake_openai.base_url, *args) for v in volunteers]

    finished = r"job \d+ \w+: \w+ in "
    deadline = time.monotonic() + 60
    while sum(worker.count_lines(finished) for worker in workers) < len(jobs):
        assert time.monotonic() < deadline, "\n\n".join(worker.output for worker in workers)
        time.sleep(0.1)
    for worker in workers:
        assert worker.stop() == 0, worker.output
        assert " 0 failed, 0 released, 0 dropped" in worker.output

    assert len(fake_openai.requests) == len(jobs)
    assert set(
        Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
    ) == {Job.Status.DONE}
    assert not Job.objects.filter(replica_of__in=jobs).exists()
    assert not JobEvent.objects.filter(job__in=jobs).exists()
    for job in jobs:
        (lease,) = job.leases.all()
        (result,) = JobResult.objects.filter(job=job)
        (credit,) = CreditEntry.objects.filter(job=job)
        assert lease.state == Lease.State.SUBMITTED
        assert result.status == JobResult.Status.VALID
        assert credit.node_id == result.node_id == lease.node_id
