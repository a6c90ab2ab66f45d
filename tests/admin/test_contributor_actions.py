from alexandria.contributors.models import Contributor


def test_ban_asks_for_a_reason_then_the_bot_is_refused_for_that_member(
    world, run_action, bot_client_for
):
    member_bot = bot_client_for(world.member.discord_id, "Ada")
    assert member_bot.get("/api/v1/me").status_code == 200

    page = run_action(Contributor, "ban", [world.member])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/action_with_form.html"
    assert 'name="reason"' in page.content.decode()
    world.member.refresh_from_db()
    assert not world.member.is_banned

    response = run_action(Contributor, "ban", [world.member], apply="yes", reason="spam links")
    assert response.status_code == 302
    world.member.refresh_from_db()
    assert world.member.is_banned
    assert world.member.ban_reason == "spam links"
    assert world.member.banned_at is not None

    refused = member_bot.get("/api/v1/me")
    assert refused.status_code == 403
    assert "banned" in refused.json()["detail"]


def test_ban_without_a_reason_shows_the_form_again(world, run_action):
    page = run_action(Contributor, "ban", [world.member], apply="yes", reason="  ")
    assert page.status_code == 200
    assert page.context["form"].errors["reason"]
    world.member.refresh_from_db()
    assert not world.member.is_banned


def test_banning_again_keeps_the_original_ban(world, run_action):
    run_action(Contributor, "ban", [world.member], apply="yes", reason="first")
    world.member.refresh_from_db()
    first_banned_at = world.member.banned_at
    run_action(Contributor, "ban", [world.member, world.reviewer], apply="yes", reason="second")
    world.member.refresh_from_db()
    world.reviewer.refresh_from_db()
    assert (world.member.ban_reason, world.member.banned_at) == ("first", first_banned_at)
    assert world.reviewer.ban_reason == "second"


def test_unban_lets_the_member_back_in(world, run_action, bot_client_for, staff_client):
    run_action(Contributor, "ban", [world.member], apply="yes", reason="mistake")
    response = run_action(Contributor, "unban", [world.member])
    assert response.status_code == 302
    world.member.refresh_from_db()
    assert (world.member.is_banned, world.member.ban_reason, world.member.banned_at) == (
        False,
        "",
        None,
    )
    assert bot_client_for(world.member.discord_id).get("/api/v1/me").status_code == 200
    history = staff_client.get(f"/admin/contributors/contributor/{world.member.pk}/history/")
    assert "Banned: mistake" in history.content.decode()


def test_ban_state_and_audit_fields_are_not_editable(world, staff_client):
    url = f"/admin/contributors/contributor/{world.member.pk}/change/"
    content = staff_client.get(url).content.decode()
    for field in ("is_banned", "ban_reason", "banned_at", "created_at", "discord_id"):
        assert f'name="{field}"' not in content
    response = staff_client.post(
        url, {"display_name": "Ada L.", "reputation": "2.5", "is_banned": "on"}
    )
    assert response.status_code == 302
    world.member.refresh_from_db()
    assert (world.member.display_name, world.member.reputation) == ("Ada L.", 2.5)
    assert not world.member.is_banned


def test_negative_reputation_is_refused(world, staff_client):
    url = f"/admin/contributors/contributor/{world.member.pk}/change/"
    response = staff_client.post(url, {"display_name": "Ada", "reputation": "-1"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    world.member.refresh_from_db()
    assert world.member.reputation == 1.0
