"""Every moderation page renders with data present, stays read-only where it must, and is
closed to anyone who isn't staff."""

import pytest
from django.contrib import admin

DOMAIN_APPS = {"contributors", "sources", "jobs", "knowledge"}
DOMAIN_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label in DOMAIN_APPS),
    key=lambda model: model._meta.label,
)


def _changelist(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


def test_every_domain_model_is_registered():
    labels = {model._meta.label for model in DOMAIN_MODELS}
    assert labels >= {
        "contributors.Contributor",
        "sources.Source",
        "jobs.Job",
        "jobs.WorkerNode",
        "jobs.CreditEntry",
        "knowledge.KnowledgeItem",
        "knowledge.Fact",
        "knowledge.Entity",
        "knowledge.Review",
    }


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda model: model._meta.label)
def test_changelist_and_change_page_render(world, staff_client, model):
    obj = model.objects.order_by("pk").first()
    assert obj is not None, f"the world fixture has no {model._meta.label}"
    changelist = staff_client.get(_changelist(model))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 1
    change = staff_client.get(f"{_changelist(model)}{obj.pk}/change/")
    assert change.status_code == 200


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda model: model._meta.label)
@pytest.mark.parametrize("term", ["bee", "1", "zzz-no-match"])
def test_search_renders_for_any_term(world, staff_client, model, term):
    response = staff_client.get(_changelist(model), {"q": term})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model_label", "params", "expected"),
    [
        ("contributors.Contributor", {"is_banned__exact": "1"}, 0),
        ("contributors.Contributor", {"q": "Ada"}, 1),
        ("sources.Source", {"purged": "no", "status__exact": "chunked"}, 1),
        ("sources.Source", {"purged": "yes"}, 0),
        ("sources.Source", {"q": "10.1/bees"}, 1),
        ("jobs.Job", {"status__exact": "failed", "kind": "extract_graph"}, 1),
        ("jobs.WorkerNode", {"revoked": "no", "is_flagged__exact": "0"}, 1),
        ("jobs.WorkerNode", {"revoked": "yes"}, 0),
        ("knowledge.KnowledgeItem", {"status__exact": "pending", "q": "dance"}, 1),
        ("knowledge.Review", {"verdict__exact": "supported"}, 1),
        ("knowledge.Fact", {"q": "described"}, 1),
    ],
)
def test_filters_and_search_select_the_right_rows(
    world, staff_client, model_label, params, expected
):
    model = next(model for model in DOMAIN_MODELS if model._meta.label == model_label)
    response = staff_client.get(_changelist(model), params)
    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


def test_job_search_by_id(world, staff_client):
    response = staff_client.get("/admin/jobs/job/", {"q": str(world.failed_job.pk)})
    assert [job.pk for job in response.context["cl"].result_list] == [world.failed_job.pk]


def test_source_page_shows_a_truncated_read_only_preview(world, staff_client):
    response = staff_client.get(f"/admin/sources/source/{world.source.pk}/change/")
    content = response.content.decode()
    assert 'name="text"' not in content
    assert 'name="sha256"' not in content
    assert world.source.sha256 in content
    assert world.source.text not in content
    assert world.source.text[:200] in content
    assert "more characters)" in content
    # Citation metadata stays editable.
    assert 'name="title"' in content


def test_source_chunks_and_job_history_are_shown_read_only(world, staff_client):
    source_page = staff_client.get(f"/admin/sources/source/{world.source.pk}/change/")
    assert len(source_page.context["inline_admin_formsets"][0].formset.forms) == 2
    assert 'name="chunks-0-start"' not in source_page.content.decode()

    job_page = staff_client.get(f"/admin/jobs/job/{world.failed_job.pk}/change/")
    content = job_page.content.decode()
    assert "model server timed out" in content
    assert "dead_lettered" in content
    assert 'name="priority"' in content
    assert 'name="status"' not in content


def test_node_page_never_shows_the_token_hash(world, staff_client):
    response = staff_client.get(f"/admin/jobs/workernode/{world.node.pk}/change/")
    content = response.content.decode()
    assert world.node.token_hash not in content
    assert world.node_token not in content
    assert world.node.token_prefix in content


def test_item_page_shows_its_anchors(world, staff_client):
    response = staff_client.get(f"/admin/knowledge/knowledgeitem/{world.item.pk}/change/")
    content = response.content.decode()
    assert world.anchor.fragment in content
    assert world.anchor.span_sha256 in content
    assert world.source.title in content


def test_anchor_page_shows_the_fragment_hashes_and_a_highlighting_link(world, staff_client):
    response = staff_client.get(f"/admin/knowledge/anchor/{world.anchor.pk}/change/")
    content = response.content.decode()
    assert world.anchor.span_sha256 in content
    assert world.source.sha256 in content
    assert world.anchor.text_start in content and world.anchor.text_end in content
    assert "https://example.org/bees#:~:text=Karl%20von%20Frisch,dance%20in%201927" in content
    assert world.source.text[world.anchor.start : world.anchor.end] not in content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/contributors/contributor/",
        "/admin/sources/source/",
        "/admin/jobs/job/",
        "/admin/jobs/workernode/",
        "/admin/jobs/creditentry/",
        "/admin/knowledge/knowledgeitem/",
        "/admin/knowledge/fact/",
    ],
)
def test_nothing_is_added_or_deleted_by_hand(world, staff_client, url):
    response = staff_client.get(url)
    assert response.context["has_add_permission"] is False
    assert "delete_selected" not in response.content.decode()


def test_ledger_and_audit_models_refuse_edits(world, staff_client):
    url = f"/admin/jobs/creditentry/{world.credit.pk}/change/"
    response = staff_client.post(url, {"amount": "999", "reason": "changed"})
    assert response.status_code == 403
    world.credit.refresh_from_db()
    assert world.credit.amount == 1.5


def test_nodes_change_only_through_actions(world, staff_client):
    url = f"/admin/jobs/workernode/{world.node.pk}/change/"
    assert staff_client.post(url, {"name": "renamed"}).status_code == 403


@pytest.mark.parametrize("url", ["/admin/", "/admin/contributors/contributor/"])
def test_non_staff_cannot_reach_admin(world, client, url):
    assert client.get(url).status_code == 302
    member_user = world.member.user
    client.force_login(member_user)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_non_staff_cannot_run_actions(world, client):
    client.force_login(world.member.user)
    client.post("/admin/jobs/job/", {"action": "cancel", "_selected_action": [world.leased_job.pk]})
    world.leased_job.refresh_from_db()
    assert world.leased_job.status == "leased"


def _queries(url: str, client) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/contributors/contributor/",
        "/admin/sources/source/",
        "/admin/jobs/job/",
        "/admin/jobs/workernode/",
        "/admin/jobs/creditentry/",
        "/admin/jobs/jobresult/",
        "/admin/knowledge/knowledgeitem/",
        "/admin/knowledge/fact/",
        "/admin/knowledge/entity/",
        "/admin/knowledge/anchor/",
        "/admin/knowledge/review/",
    ],
)
def test_changelist_queries_do_not_grow_with_rows(world, staff_client, url):
    from tests.admin.conftest import add_more_of_everything

    before = len(_queries(url, staff_client))
    add_more_of_everything(world, copies=3)
    assert len(_queries(url, staff_client)) == before


@pytest.mark.parametrize(
    "url", ["/admin/sources/source/", "/admin/jobs/job/", "/admin/knowledge/fact/"]
)
def test_changelists_never_load_source_texts(world, staff_client, url):
    assert not [sql for sql in _queries(url, staff_client) if '"sources_source"."text"' in sql]
