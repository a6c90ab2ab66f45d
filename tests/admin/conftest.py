"""A small, fully linked world for the moderation admin: one of everything, with relations."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.contributors.services import contributor_for_discord_user
from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, Lease, WorkerNode
from alexandria.jobs.tokens import hash_node_token, new_node_token
from alexandria.knowledge.models import Anchor, Entity, Fact, KnowledgeItem, Review
from alexandria.retention.takedowns import take_down
from alexandria.sources.models import Chunk, Source, Takedown
from alexandria.sources.services import Citation, submit_text
from tests.support.anchors import anchor_on

MEMBER_DISCORD_ID = "200000000000000002"
REVIEWER_DISCORD_ID = "200000000000000003"
SOURCE_TEXT = (
    "Honey bees communicate the direction of food with a waggle dance. "
    "The angle of the dance encodes the direction relative to the sun. "
    "Karl von Frisch described the dance in 1927. " * 40
)


@dataclass
class World:
    member: Contributor
    reviewer: Contributor
    source: Source
    anchor: Anchor
    fact: Fact
    item: KnowledgeItem
    review: Review
    node: WorkerNode
    node_token: str
    leased_job: Job
    lease: Lease
    failed_job: Job
    done_job: Job
    result: JobResult
    credit: CreditEntry
    takedown: Takedown


@pytest.fixture
def world(db) -> World:
    member = contributor_for_discord_user(MEMBER_DISCORD_ID, display_name="Ada")
    reviewer = contributor_for_discord_user(REVIEWER_DISCORD_ID, display_name="Grace")
    source = submit_text(
        SOURCE_TEXT,
        citation=Citation(
            title="On the dance of bees", url="https://example.org/bees", doi="10.1/bees"
        ),
        submitted_by=member,
    ).source
    text = source.text
    half = len(text) // 2
    Chunk.objects.bulk_create(
        [
            Chunk(source=source, index=0, start=0, end=half, context_start=0, context_end=half),
            Chunk(
                source=source,
                index=1,
                start=half,
                end=len(text),
                context_start=half,
                context_end=len(text),
            ),
        ]
    )
    Source.objects.filter(pk=source.pk).update(status=Source.Status.CHUNKED)
    source.refresh_from_db()

    anchor = anchor_on(source, "Karl von Frisch described the dance in 1927")
    frisch = Entity.objects.create(source=source, name="Karl von Frisch", type="person")
    dance = Entity.objects.create(source=source, name="waggle dance", type="behaviour")
    fact = Fact.objects.create(
        source=source,
        kind=Fact.Kind.RELATION,
        subject=frisch,
        predicate="described",
        object_entity=dance,
        anchor=anchor,
        temporal_id=1,
    )
    item = KnowledgeItem.objects.create(
        kind=KnowledgeItem.Kind.HYPOTHESIS,
        text="Bees share the direction of food through dance.",
        author=member,
    )
    item.anchors.add(anchor)
    review = Review.objects.create(
        item=item, reviewer=reviewer, verdict=Review.Verdict.SUPPORTED, weight=1.0
    )

    token = new_node_token()
    node = WorkerNode.objects.create(
        owner=member, name="gpu-box", token_hash=hash_node_token(token), token_prefix=token[:10]
    )
    expires = timezone.now() + timedelta(minutes=10)
    leased_job = Job.objects.create(
        kind="extract_graph",
        source=source,
        status=Job.Status.LEASED,
        lease_owner=node,
        lease_expires_at=expires,
        attempts=1,
    )
    lease = Lease.objects.create(job=leased_job, node=node, expires_at=expires)
    failed_job = Job.objects.create(
        kind="extract_graph",
        source=source,
        status=Job.Status.FAILED,
        attempts=5,
        finished_at=timezone.now(),
    )
    JobEvent.objects.create(
        job=failed_job, node=node, kind=JobEvent.Kind.ERROR, message="model server timed out"
    )
    JobEvent.objects.create(
        job=failed_job, kind=JobEvent.Kind.DEAD_LETTERED, message="5 attempts used"
    )
    done_job = Job.objects.create(
        kind="extract_graph",
        source=source,
        status=Job.Status.DONE,
        attempts=1,
        finished_at=timezone.now(),
    )
    done_lease = Lease.objects.create(
        job=done_job, node=node, expires_at=expires, state=Lease.State.SUBMITTED
    )
    result = JobResult.objects.create(
        job=done_job,
        node=node,
        lease=done_lease,
        output={"entities": []},
        output_sha256="ab" * 32,
        status=JobResult.Status.VALID,
    )
    credit = CreditEntry.objects.create(
        contributor=member,
        node=node,
        job=done_job,
        amount=Decimal("1.500"),
        reason="valid graph extraction",
        basis=CreditEntry.Basis.TRUSTED,
    )
    # A takedown of another site: in the register, nothing of the world's removed.
    takedown = take_down(
        Takedown.Scope.DOMAIN, "pirated.example", reason="a publisher's request", by=reviewer
    ).takedown
    return World(
        member=member,
        reviewer=reviewer,
        source=source,
        anchor=anchor,
        fact=fact,
        item=item,
        review=review,
        node=node,
        node_token=token,
        leased_job=leased_job,
        lease=lease,
        failed_job=failed_job,
        done_job=done_job,
        result=result,
        credit=credit,
        takedown=takedown,
    )


@pytest.fixture
def run_action(staff_client):
    """POST an admin action for the given objects to their changelist, as a moderator would."""

    def post(model, action: str, objects, **form):
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        data = {"action": action, "_selected_action": [obj.pk for obj in objects], **form}
        return staff_client.post(url, data)

    return post


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The staff user's password is hashed once per test; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def add_more_of_everything(world: World, *, copies: int) -> None:
    """More rows of each kind, each with its own related objects, for query-count checks."""
    for n in range(copies):
        member = contributor_for_discord_user(f"30000000000000000{n}", display_name=f"m{n}")
        source = submit_text(
            f"Copy {n} of a text about bees. Bees dance.",
            citation=Citation(title=f"copy {n}"),
            submitted_by=member,
        ).source
        token = new_node_token()
        node = WorkerNode.objects.create(
            owner=member,
            name=f"node-{n}",
            token_hash=hash_node_token(token),
            token_prefix=token[:10],
        )
        expires = timezone.now() + timedelta(minutes=10)
        job = Job.objects.create(
            kind="extract_graph",
            source=source,
            status=Job.Status.LEASED,
            lease_owner=node,
            lease_expires_at=expires,
        )
        lease = Lease.objects.create(job=job, node=node, expires_at=expires, state="submitted")
        JobResult.objects.create(
            job=job, node=node, lease=lease, output={}, output_sha256="cd" * 32
        )
        CreditEntry.objects.create(
            contributor=member,
            node=node,
            job=job,
            amount=Decimal(1),
            reason="copy",
            basis=CreditEntry.Basis.AGREED,
        )
        anchor = anchor_on(source, "Copy")
        subject = Entity.objects.create(source=source, name=f"bee {n}", type="animal")
        Entity.objects.filter(pk=subject.pk).update(canonical=world.fact.subject)
        Fact.objects.create(
            source=source,
            kind=Fact.Kind.ATTRIBUTE,
            subject=subject,
            predicate="count",
            value=str(n),
            anchor=anchor,
            temporal_id=n,
        )
        item = KnowledgeItem.objects.create(
            kind=KnowledgeItem.Kind.INSTRUCTION, text=f"Watch bees {n}.", merged_into=world.item
        )
        Review.objects.create(
            item=item, reviewer=member, verdict=Review.Verdict.UNCLEAR, weight=1.0
        )
