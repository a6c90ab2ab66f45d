"""Takedowns: a source goes everywhere (text, anchors, graph, job payloads and results, index
entries), items that lose all evidence are withdrawn up the layers, the register keeps only
hashes and the URL, and whatever it covers is refused when submitted again."""

import hashlib
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from alexandria.contributors.services import contributor_for_discord_user
from alexandria.core.errors import NotFoundError
from alexandria.jobs.models import CreditEntry, Job, JobEvent, JobResult, Lease
from alexandria.jobs.services.lifecycle import TRIMMED, requeue_job
from alexandria.jobs.services.nodes import register_node
from alexandria.knowledge.models import Anchor, Entity, Fact, KnowledgeItem
from alexandria.knowledge.services import hide_item, restore_item
from alexandria.layers.models import MergeRecord
from alexandria.layers.services.merging import merge_items
from alexandria.pipeline.models import RejectedItem, SourceProfile
from alexandria.retention.takedowns import TakedownRefused, take_down
from alexandria.reviews.selectors import gold_items_for
from alexandria.reviews.services import plant_gold_item
from alexandria.search.selectors import visible_items
from alexandria.sources.models import Chunk, Source, SourceTombstone, Takedown, TakedownEvent
from alexandria.sources.services import (
    Citation,
    SubmissionTakenDown,
    submit_text,
    submit_upload,
)
from alexandria.textproc.normalize import normalize_text, sha256_hex
from tests.search.conftest import kb, search_index  # noqa: F401
from tests.support.anchors import anchor_on

Scope = Takedown.Scope
Status = KnowledgeItem.Status

TEXT_A = (
    "Honey bees tell their sisters where food is with a waggle dance. The angle of the "
    "dance shows the direction of the flowers relative to the sun."
)
TEXT_B = (
    "A field guide to pollinators. Bees dance to share where flowers are, and bumblebees "
    "leave scent marks on the flowers they emptied."
)


@pytest.fixture
def staff(db):
    return contributor_for_discord_user("100000000000000077", display_name="moderator")


def submitted(text: str, *, url: str = "", title: str = "A text", by=None) -> Source:
    return submit_text(text, citation=Citation(title=title, url=url), submitted_by=by).source


def item(text: str, *, anchors=(), derived_from=(), layer: int = 1) -> KnowledgeItem:
    created = KnowledgeItem.objects.create(kind="hypothesis", layer=layer, text=text)
    created.anchors.set(anchors)
    created.derived_from.set(derived_from)
    return created


def status_of(*items) -> list[str]:
    return [KnowledgeItem.objects.get(pk=i.pk).status for i in items]


def test_a_takedown_by_id_removes_the_source_and_everything_that_quotes_it(staff):
    source = submitted(TEXT_A, url="https://bees.example.org/dance", title="On bees")
    Chunk.objects.create(
        source=source,
        index=0,
        start=0,
        end=len(source.text),
        context_start=0,
        context_end=len(source.text),
    )
    SourceProfile.objects.create(source=source, summary="Bees dance to show food.")
    anchor = anchor_on(source, "The angle of the dance shows the direction")
    bee = Entity.objects.create(source=source, name="honey bee", type="thing")
    dance = Entity.objects.create(source=source, name="waggle dance", type="thing")
    Fact.objects.create(
        source=source,
        kind=Fact.Kind.RELATION,
        subject=bee,
        predicate="performs",
        object_entity=dance,
        anchor=anchor,
        temporal_id=1,
    )
    grounded = item("Bees show directions by dancing.", anchors=[anchor])
    node = register_node(staff, name="box", capabilities={"kinds": ["extract_graph"]}).node
    done = Job.objects.create(
        kind="extract_graph", source=source, status=Job.Status.DONE, payload={"chunk": TEXT_A}
    )
    lease = Lease.objects.create(
        job=done, node=node, expires_at=source.created_at, state=Lease.State.SUBMITTED
    )
    JobResult.objects.create(
        job=done,
        node=node,
        lease=lease,
        output={"facts": [{"anchor": TEXT_A}]},
        output_sha256="ab" * 32,
        status=JobResult.Status.VALID,
        rejection_reasons=[f"quote {TEXT_A[:60]!r} not found"],
    )
    JobEvent.objects.create(job=done, node=node, kind=JobEvent.Kind.ERROR, message=TEXT_A)
    RejectedItem.objects.create(
        job=done, node=node, item_kind="fact", index=0, reason="copied", message=TEXT_A
    )
    CreditEntry.objects.create(
        contributor=staff, node=node, job=done, amount=Decimal(1), reason="graph", basis="trusted"
    )
    queued = Job.objects.create(kind="describe", source=source, payload={"excerpt": TEXT_A})

    outcome = take_down(Scope.SOURCE, f" {source.pk} ", reason="publisher's request", by=staff)

    assert outcome.created and outcome.removed_sources == [source.pk]
    assert outcome.items_withdrawn == 1
    assert not Source.objects.filter(pk=source.pk).exists()
    for model in (Chunk, Anchor, Entity, Fact, SourceProfile):
        assert not model.objects.filter(source_id=source.pk).exists(), model
    tombstone = SourceTombstone.objects.get(former_source_id=source.pk)
    assert tombstone.takedown == outcome.takedown
    assert (tombstone.sha256, tombstone.url) == (source.sha256, "https://bees.example.org/dance")
    assert tombstone.file_sha256 == hashlib.sha256(TEXT_A.encode()).hexdigest()
    # The ledger stays: jobs, their status and credit, without a word of the source.
    done.refresh_from_db()
    queued.refresh_from_db()
    assert (done.status, done.source_id, done.payload) == (Job.Status.DONE, None, {})
    assert (queued.status, queued.payload) == (Job.Status.CANCELLED, {})
    assert CreditEntry.objects.filter(job=done).exists()
    result = JobResult.objects.get(job=done)
    assert "taken down" in result.output[TRIMMED] and len(result.output) == 1
    assert "taken down" in result.rejection_reasons[0]
    assert "taken down" in JobEvent.objects.get(job=done, kind="error").message
    assert "taken down" in RejectedItem.objects.get(job=done).message
    assert JobEvent.objects.filter(job=queued, kind=JobEvent.Kind.CANCELLED).exists()
    assert not requeue_job(queued), "a job whose payload was taken down can't run again"
    grounded.refresh_from_db()
    assert grounded.status == Status.WITHDRAWN
    assert f"takedown #{outcome.takedown.pk}" in grounded.hidden_reason
    # The audit log: the request, and what removing the source took.
    request, removal = TakedownEvent.objects.filter(takedown=outcome.takedown)
    assert (request.action, request.actor, request.message) == (
        "requested",
        staff,
        "publisher's request",
    )
    assert removal.action == "source_removed" and removal.former_source_id == source.pk
    assert removal.counts == {
        "jobs_cancelled": 1,
        "facts": 1,
        "entities": 2,
        "anchors": 1,
        "items_withdrawn": 1,
        "items_regrounded": 0,
        "jobs_scrubbed": 2,
    }


UPLOADED_HTML = b"<html><body><p>A page about moths and the lamps they circle.</p></body>"


@pytest.fixture
def web(db) -> dict[str, Source]:
    """Sources under several URLs, one of them uploaded as a file."""
    uploaded = submit_upload(
        UPLOADED_HTML,
        content_type="text/html",
        filename="moths.html",
        citation=Citation(title="Moths", url="https://other.net/moths"),
        submitted_by=None,
    ).source
    return {
        "paper": submitted("Paper one on bees.", url="https://example.org/papers/1"),
        "blog": submitted("A blog post on bees.", url="https://blog.example.org/post"),
        "lookalike": submitted("Not the domain.", url="https://notexample.org/x"),
        "suffix": submitted("Also not it.", url="https://example.org.evil.com/y"),
        "other": submitted("Another text entirely.", url="https://other.net/z"),
        "upload": uploaded,
    }


@pytest.mark.parametrize(
    ("scope", "value", "removed"),
    [
        (Scope.URL, "https://example.org/papers/1", {"paper"}),
        (Scope.URL_PREFIX, "https://example.org/papers/", {"paper"}),
        (Scope.DOMAIN, "Example.ORG", {"paper", "blog"}),
        (Scope.DOMAIN, "https://example.org/anything", {"paper", "blog"}),
        # The normalised text's hash (any case), and the hash of the file as uploaded.
        (Scope.SHA256, "the other text", {"other"}),
        (Scope.SHA256, hashlib.sha256(UPLOADED_HTML).hexdigest(), {"upload"}),
    ],
)
def test_takedowns_by_url_prefix_domain_and_hash(web, staff, scope, value, removed):
    if value == "the other text":
        value = web["other"].sha256.upper()
    outcome = take_down(scope, value, reason="request", by=staff)
    kept = set(Source.objects.values_list("pk", flat=True))
    assert {name for name, source in web.items() if source.pk not in kept} == removed
    assert sorted(outcome.removed_sources) == sorted(web[name].pk for name in removed)


@pytest.mark.parametrize(
    ("scope", "value"),
    [
        (Scope.SOURCE, "seven"),
        (Scope.URL, "not a url"),
        (Scope.DOMAIN, "exa mple.org"),
        (Scope.SHA256, "abc"),
        ("title", "Bees"),
        (Scope.URL, "  "),
    ],
)
def test_requests_that_name_nothing_are_refused(staff, scope, value):
    with pytest.raises(TakedownRefused):
        take_down(scope, value, reason="request", by=staff)
    assert not Takedown.objects.exists()


def test_a_takedown_is_idempotent(staff):
    source = submitted(TEXT_A, url="https://example.org/a")
    first = take_down(Scope.URL, "https://example.org/a", reason="request", by=staff)
    again = take_down(Scope.URL, "https://example.org/a", reason="reminder", by=staff)
    assert again.takedown == first.takedown and not again.created
    assert first.removed_sources == [source.pk] and again.removed_sources == []
    actions = list(
        TakedownEvent.objects.filter(takedown=first.takedown).values_list("action", flat=True)
    )
    assert actions == ["requested", "source_removed", "requested"]
    assert SourceTombstone.objects.count() == 1


def test_evidence_cascades_through_merges_and_up_the_layers(staff):
    a = submitted(TEXT_A, url="https://example.org/a")
    b = submitted(TEXT_B, url="https://example.net/b")
    on_a = anchor_on(a, "Honey bees tell their sisters where food is")
    on_a2 = anchor_on(a, "The angle of the dance")
    on_b = anchor_on(b, "Bees dance to share where flowers are")
    on_b2 = anchor_on(b, "bumblebees leave scent marks")
    only_a = item("Bees dance to tell where food is.", anchors=[on_a])
    both = item("Bees communicate by dancing.", anchors=[on_a2, on_b])
    # A canonical item from A that absorbed an item from B keeps B's evidence...
    canonical_a = item("A dance shows the way to food.", anchors=[on_a])
    merged_b = item("Dancing shows bees the way to flowers.", anchors=[on_b])
    assert merge_items(canonical_a.pk, merged_b.pk, similarity=0.95, method="guard")
    # ...and an item from A merged into one from B is withdrawn, while its canonical stays.
    canonical_b = item("Bumblebees mark emptied flowers.", anchors=[on_b2])
    merged_a = item("Bees mark flowers they have emptied.", anchors=[on_a2])
    assert merge_items(canonical_b.pk, merged_a.pk, similarity=0.95, method="guard")
    only_withdrawn_below = item("Dances encode directions.", derived_from=[only_a], layer=2)
    mixed_below = item("Insects share routes.", derived_from=[only_a, both], layer=2)
    layer_3_on_withdrawn = item(
        "Animals signal places.", derived_from=[only_withdrawn_below], layer=3
    )
    layer_3_on_mixed = item("Signals carry places.", derived_from=[mixed_below], layer=3)

    outcome = take_down(Scope.DOMAIN, "example.org", reason="request", by=staff)

    assert outcome.removed_sources == [a.pk]
    assert (
        status_of(only_a, merged_a, only_withdrawn_below, layer_3_on_withdrawn)
        == [Status.WITHDRAWN] * 4
    )
    assert (
        status_of(both, canonical_a, merged_b, canonical_b, mixed_below, layer_3_on_mixed)
        == [Status.PENDING] * 6
    )
    assert list(both.anchors.all()) == [on_b]
    assert list(canonical_a.anchors.all()) == [on_b]
    assert list(canonical_b.anchors.all()) == [on_b2]
    assert MergeRecord.objects.get(merged=merged_a).added_anchors.count() == 0
    assert outcome.items_withdrawn == 4
    visible = set(visible_items().values_list("pk", flat=True))
    assert visible == {both.pk, canonical_a.pk, canonical_b.pk, mixed_below.pk, layer_3_on_mixed.pk}


def test_withdrawn_items_stay_withdrawn(staff):
    source = submitted(TEXT_A)
    withdrawn = item("Bees dance.", anchors=[anchor_on(source, "Honey bees tell")])
    take_down(Scope.SOURCE, str(source.pk), reason="request", by=staff)
    withdrawn.refresh_from_db()
    assert not hide_item(withdrawn, "spam")
    assert not restore_item(withdrawn)
    assert withdrawn.status == Status.WITHDRAWN


def test_withdrawn_gold_items_no_longer_calibrate_reviewers(staff):
    source = submitted(TEXT_A)
    gold = plant_gold_item(
        text="Bees dance.",
        kind="hypothesis",
        expected_verdict="supported",
        anchors=[anchor_on(source, "Honey bees tell")],
    )
    reviewer = contributor_for_discord_user("100000000000000078", display_name="reviewer")
    assert list(gold_items_for(reviewer, now=timezone.now())) == [gold.item]
    take_down(Scope.SOURCE, str(source.pk), reason="request", by=staff)
    assert status_of(gold.item) == [Status.WITHDRAWN]
    assert not gold_items_for(reviewer, now=timezone.now()).exists()


def test_index_entries_of_the_source_go(kb, staff, settings, django_capture_on_commit_callbacks):  # noqa: F811
    a = submitted(TEXT_A, url="https://example.org/a")
    b = submitted(TEXT_B, url="https://example.net/b")
    only_a = item("Bees dance to tell where food is.", anchors=[anchor_on(a, "Honey bees tell")])
    both = item(
        "Bees communicate by dancing.",
        anchors=[anchor_on(a, "The angle of the dance"), anchor_on(b, "Bees dance to share")],
    )
    above = item("Dances encode directions.", derived_from=[only_a], layer=2)
    kb.sync()
    assert set(_indexed(kb, 1)) == {only_a.pk, both.pk} and set(_indexed(kb, 2)) == {above.pk}

    settings.SEARCH_INDEX_ON_COMMIT = True
    with django_capture_on_commit_callbacks(execute=True):
        take_down(Scope.SOURCE, str(a.pk), reason="request", by=staff)

    layer_1 = _indexed(kb, 1)
    assert set(layer_1) == {both.pk}
    assert layer_1[both.pk]["source_ids"] == str(b.pk)
    assert _indexed(kb, 2) == {}


def _indexed(kb, layer: int) -> dict[int, dict]:  # noqa: F811
    return kb.index.entries(layer)


@pytest.mark.parametrize(
    ("scope", "value", "resubmitted"),
    [
        (Scope.SOURCE, "{source}", {"text": TEXT_A}),
        (Scope.SOURCE, "{source}", {"text": TEXT_A.replace(" ", "  ")}),
        (Scope.SOURCE, "{source}", {"text": "Other words.", "url": "https://example.org/a"}),
        (
            Scope.URL_PREFIX,
            "https://example.org/",
            {"text": "New.", "url": "https://example.org/b"},
        ),
        (Scope.DOMAIN, "example.org", {"text": "New.", "url": "http://www.example.org/c"}),
        (Scope.SHA256, "{text_sha256}", {"text": TEXT_A}),
    ],
)
def test_resubmission_is_refused_with_409_naming_the_takedown(
    staff, bot_client, scope, value, resubmitted
):
    source = submitted(TEXT_A, url="https://example.org/a", title="Secret title")
    value = value.format(source=source.pk, text_sha256=sha256_hex(normalize_text(TEXT_A)))
    takedown = take_down(scope, value, reason="request", by=staff).takedown

    response = bot_client.post("/api/v1/sources", {"title": "Again", **resubmitted}, format="json")

    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "taken_down"
    assert f"takedown #{takedown.pk} of {takedown.created_at:%Y-%m-%d}" in body["detail"]
    assert "Secret" not in body["detail"] and "bees" not in body["detail"]
    assert not Source.objects.exists()
    assert TakedownEvent.objects.filter(
        takedown=takedown, action="resubmission_refused", actor__isnull=False
    ).exists()


def test_a_file_taken_down_by_its_hash_is_refused_as_an_upload(staff, bot_client):
    data = b"A plain text file about moths circling lamps at night."
    take_down(Scope.SHA256, hashlib.sha256(data).hexdigest(), reason="request", by=staff)
    upload = SimpleUploadedFile("moths.txt", data, content_type="text/plain")
    response = bot_client.post("/api/v1/sources", {"file": upload}, format="multipart")
    assert response.status_code == 409
    with pytest.raises(SubmissionTakenDown):
        submit_text(data.decode(), citation=Citation(), submitted_by=None)


def test_a_takedown_refuses_before_any_source_exists_and_spares_the_rest(staff, bot_client):
    take_down(Scope.DOMAIN, "example.org", reason="request", by=staff)
    refused = bot_client.post(
        "/api/v1/sources", {"text": "Fresh.", "url": "https://sub.example.org/"}, format="json"
    )
    elsewhere = bot_client.post(
        "/api/v1/sources", {"text": "Fresh.", "url": "https://example.org.evil.com/"}, format="json"
    )
    assert refused.status_code == 409
    assert elsewhere.status_code == 201


def test_a_source_id_nobody_knows_is_not_found(staff):
    with pytest.raises(NotFoundError, match="no source #999"):
        take_down(Scope.SOURCE, "999", reason="request", by=staff)
