"""Database constraints keep the data consistent even when code has a bug."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.jobs.models import CreditEntry, Job, Lease, WorkerNode
from alexandria.jobs.tokens import hash_node_token, new_node_token
from alexandria.knowledge.models import Anchor, Entity, Fact
from alexandria.sources.models import Chunk, Source
from alexandria.textproc.fragments import span_sha256


def _contributor(name="ada") -> Contributor:
    user = get_user_model().objects.create_user(username=name)
    return Contributor.objects.create(user=user, display_name=name)


def _source(sha="a" * 64) -> Source:
    return Source.objects.create(
        title="t", sha256=sha, char_count=10, byte_size=10, text="0123456789"
    )


def _node(owner: Contributor, name="gpu-1") -> WorkerNode:
    token = new_node_token()
    return WorkerNode.objects.create(
        owner=owner, name=name, token_hash=hash_node_token(token), token_prefix=token[:12]
    )


def _violates(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
def test_sha256_is_unique_per_source():
    _source()
    assert _violates(lambda: _source())


@pytest.mark.django_db
def test_one_active_lease_per_job():
    node = _node(_contributor())
    job = Job.objects.create(kind="extract_graph")
    expires = timezone.now() + timedelta(minutes=5)
    Lease.objects.create(job=job, node=node, expires_at=expires)
    assert _violates(lambda: Lease.objects.create(job=job, node=node, expires_at=expires))
    # An ended lease does not block a new one.
    Lease.objects.filter(job=job).update(state=Lease.State.EXPIRED)
    Lease.objects.create(job=job, node=node, expires_at=expires)


@pytest.mark.django_db
def test_credit_once_per_job_and_node():
    owner = _contributor()
    node = _node(owner)
    job = Job.objects.create(kind="extract_graph")
    CreditEntry.objects.create(contributor=owner, node=node, job=job, amount=Decimal(1), reason="r")
    assert _violates(
        lambda: CreditEntry.objects.create(
            contributor=owner, node=node, job=job, amount=Decimal(1), reason="again"
        )
    )


@pytest.mark.django_db
def test_leased_job_needs_owner_and_expiry():
    assert _violates(lambda: Job.objects.create(kind="derive", status=Job.Status.LEASED))


@pytest.mark.django_db
def test_spans_must_be_non_empty():
    source = _source()
    assert _violates(
        lambda: Chunk.objects.create(
            source=source, index=0, start=5, end=5, context_start=0, context_end=10
        )
    )
    assert _violates(
        lambda: Anchor.objects.create(
            source=source, start=4, end=2, span_sha256=span_sha256("x"), text_start="x"
        )
    )


@pytest.mark.django_db
def test_an_anchor_quotes_its_end_only_with_its_start():
    source = _source()
    assert _violates(
        lambda: Anchor.objects.create(
            source=source, start=0, end=4, span_sha256=span_sha256("0123"), text_end="3"
        )
    )


@pytest.mark.django_db
def test_chunk_context_must_cover_the_chunk():
    source = _source()
    assert _violates(
        lambda: Chunk.objects.create(
            source=source, index=0, start=2, end=8, context_start=3, context_end=10
        )
    )


@pytest.mark.django_db
def test_purged_source_has_no_text():
    source = _source()
    assert _violates(
        lambda: Source.objects.filter(pk=source.pk).update(text_purged_at=timezone.now())
    )


@pytest.mark.django_db
def test_relation_needs_an_object_and_attribute_must_not_have_one():
    source = _source()
    anchor = Anchor.objects.create(
        source=source, start=0, end=4, span_sha256=span_sha256("0123"), text_start="0123"
    )
    subject = Entity.objects.create(source=source, name="A", type="concept")
    other = Entity.objects.create(source=source, name="B", type="concept")

    def fact(**fields):
        return Fact.objects.create(
            source=source, subject=subject, predicate="p", anchor=anchor, temporal_id=1, **fields
        )

    assert _violates(lambda: fact(kind="relation"))
    assert _violates(lambda: fact(kind="attribute", object_entity=other))
    fact(kind="relation", object_entity=other)
    fact(kind="attribute", value="42")


@pytest.mark.django_db
def test_discord_id_is_unique():
    first = _contributor("a")
    first.discord_id = "123456789012345678"
    first.save()
    second = _contributor("b")
    second.discord_id = "123456789012345678"
    assert _violates(second.save)
