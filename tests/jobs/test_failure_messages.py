"""A node's failure message is stored, except when it repeats the job's source text: the event
log outlives the purge, so it must not carry the text past it. The same holds for a schema
error about an output, which quotes the output."""

import hashlib

from alexandria.jobs.models import Job
from alexandria.jobs.services.held_leases import WITHHELD
from alexandria.sources.models import Source

TEXT = (
    "The tide mill at Eling grinds flour twice a day when the sea water stored behind its "
    "dam runs back out through the wheel, and the miller sets the stones by the moon tables "
    "printed each spring by the harbour office for every boat in the estuary."
)


def source_with_text() -> Source:
    return Source.objects.create(
        title="Tide mill",
        sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
        char_count=len(TEXT),
        byte_size=len(TEXT.encode()),
        text=TEXT,
    )


def test_a_message_quoting_the_source_is_withheld(register_node, clip_job):
    node = register_node()
    job = clip_job()
    Job.objects.filter(pk=job.pk).update(source=source_with_text(), max_attempts=5)
    quoting = f"ValueError: bad payload {{'text': '{TEXT[:160]}'}}"

    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    node.fail(lease_id, quoting)
    lease_id = node.lease().json()["jobs"][0]["lease_id"]
    node.fail(lease_id, "CUDA out of memory", release=True)

    assert list(job.events.filter(node__isnull=False).values_list("kind", "message")) == [
        ("error", WITHHELD),
        ("released", "CUDA out of memory"),
    ]


def test_a_schema_error_quoting_the_source_is_withheld(register_node, clip_job):
    node = register_node()
    source = source_with_text()
    quoted, plain = clip_job(), clip_job()
    Job.objects.filter(pk__in=[quoted.pk, plain.pk]).update(source=source)
    leases = {job["job_id"]: job["lease_id"] for job in node.lease(max_jobs=2).json()["jobs"]}
    node.submit(leases[quoted.pk], {"model": [TEXT[:160]], "scores": []})
    node.submit(leases[plain.pk], {"model": 7, "scores": []})

    (withheld,) = quoted.events.filter(kind="invalid").values_list("message", flat=True)
    (kept,) = plain.events.filter(kind="invalid").values_list("message", flat=True)
    assert withheld == WITHHELD
    assert kept.startswith("output schema: ") and "7 is not of type" in kept
