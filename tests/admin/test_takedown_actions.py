"""Taking sources down from the admin: the sources' "Take down" action asks for a reason, and
the register shows what each takedown removed (read-only), or takes down a URL or domain."""

from alexandria.jobs.models import CreditEntry, Job
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.sources.models import Source, SourceTombstone, Takedown, TakedownEvent


def test_take_down_asks_for_a_reason(world, run_action):
    page = run_action(Source, "take_down_sources", [world.source])
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    again = run_action(Source, "take_down_sources", [world.source], apply="yes", reason="")
    assert again.context["form"].errors["reason"]
    assert Source.objects.filter(pk=world.source.pk).exists()


def test_take_down_removes_the_source_and_keeps_the_ledger(world, run_action, staff_client):
    response = run_action(
        Source, "take_down_sources", [world.source], apply="yes", reason="DMCA notice 42"
    )
    assert response.status_code == 302
    shown = [str(m) for m in staff_client.get(response["Location"]).context["messages"]]
    assert any("1 source(s) removed, 1 item(s) withdrawn" in text for text in shown), shown
    assert not Source.objects.filter(pk=world.source.pk).exists()
    assert not Anchor.objects.filter(pk=world.anchor.pk).exists()
    item = KnowledgeItem.objects.get(pk=world.item.pk)
    assert item.status == KnowledgeItem.Status.WITHDRAWN
    assert Job.objects.get(pk=world.leased_job.pk).status == Job.Status.CANCELLED
    assert CreditEntry.objects.filter(pk=world.credit.pk).exists()
    takedown = Takedown.objects.get(scope="source", value=str(world.source.pk))
    assert takedown.reason == "DMCA notice 42"
    assert takedown.requested_by.user.username == "moderator"
    assert SourceTombstone.objects.get(takedown=takedown).url == "https://example.org/bees"


def test_the_register_is_read_only_and_shows_what_went(world, run_action, staff_client):
    run_action(Source, "take_down_sources", [world.source], apply="yes", reason="request")
    takedown = Takedown.objects.get(scope="source")
    page = staff_client.get(f"/admin/sources/takedown/{takedown.pk}/change/")
    content = page.content.decode()
    assert page.status_code == 200
    assert world.source.sha256 in content and "source_removed" in content
    assert world.source.title not in content
    assert 'name="reason"' not in content
    post = staff_client.post(f"/admin/sources/takedown/{takedown.pk}/change/", {"reason": "x"})
    assert post.status_code == 403
    listing = staff_client.get("/admin/sources/takedown/")
    assert "delete_selected" not in listing.content.decode()


def test_a_domain_is_taken_down_from_the_register(world, staff_client):
    response = staff_client.post(
        "/admin/sources/takedown/add/",
        {"scope": "domain", "value": "https://www.Example.org/", "reason": "publisher's request"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    takedown = Takedown.objects.get(scope="domain", value="www.example.org")
    assert not SourceTombstone.objects.filter(takedown=takedown).exists()  # example.org stays
    assert Source.objects.filter(pk=world.source.pk).exists()
    bad = staff_client.post(
        "/admin/sources/takedown/add/", {"scope": "sha256", "value": "beef", "reason": "x"}
    )
    assert bad.status_code == 200
    assert "64 hexadecimal digits" in str(bad.context["adminform"].form.errors)
    assert TakedownEvent.objects.filter(takedown=takedown, action="requested").count() == 1
