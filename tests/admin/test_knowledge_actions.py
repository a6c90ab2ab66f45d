from alexandria.knowledge.models import KnowledgeItem


def test_hide_asks_for_a_reason_and_hides_the_item(world, run_action):
    page = run_action(KnowledgeItem, "hide", [world.item])
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert KnowledgeItem.objects.get(pk=world.item.pk).status == KnowledgeItem.Status.PENDING

    response = run_action(KnowledgeItem, "hide", [world.item], apply="yes", reason="misleading")
    assert response.status_code == 302
    item = KnowledgeItem.objects.get(pk=world.item.pk)
    assert (item.status, item.hidden_reason) == (KnowledgeItem.Status.HIDDEN, "misleading")
    assert list(item.anchors.all()) == [world.anchor]


def test_hide_without_a_reason_shows_the_form_again(world, run_action):
    page = run_action(KnowledgeItem, "hide", [world.item], apply="yes", reason="")
    assert page.context["form"].errors["reason"]
    assert KnowledgeItem.objects.get(pk=world.item.pk).status == KnowledgeItem.Status.PENDING


def test_restore_brings_a_hidden_item_back_to_pending(world, run_action):
    KnowledgeItem.objects.filter(pk=world.item.pk).update(
        status=KnowledgeItem.Status.HIDDEN, hidden_reason="misleading"
    )
    response = run_action(KnowledgeItem, "restore", [world.item])
    assert response.status_code == 302
    item = KnowledgeItem.objects.get(pk=world.item.pk)
    assert (item.status, item.hidden_reason) == (KnowledgeItem.Status.PENDING, "")


def test_restore_leaves_items_that_are_not_hidden_alone(world, run_action):
    KnowledgeItem.objects.filter(pk=world.item.pk).update(status=KnowledgeItem.Status.ACCEPTED)
    run_action(KnowledgeItem, "restore", [world.item])
    assert KnowledgeItem.objects.get(pk=world.item.pk).status == KnowledgeItem.Status.ACCEPTED


def test_items_change_only_through_actions(world, staff_client):
    url = f"/admin/knowledge/knowledgeitem/{world.item.pk}/change/"
    assert staff_client.post(url, {"text": "rewritten"}).status_code == 403
    assert KnowledgeItem.objects.get(pk=world.item.pk).text == world.item.text
