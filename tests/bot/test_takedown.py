"""/mod takedown answers the moderator privately; a submission refused by a takedown tells
the member privately which takedown (never the content)."""

import pytest
from discord import app_commands

from bot.client import Actor, Conflict
from bot.cogs.moderation import TAKEDOWN_SCOPES, ModerationCog
from bot.cogs.submit import SubmitCog
from tests.bot.conftest import MEMBER_ID, make_interaction, sent_text
from tests.bot.test_cogs import assert_all_private, assert_deferred_first, fake_bot

TAKEN_DOWN = {
    "detail": "This can't be submitted: it falls under takedown #3 of 2026-01-05 (by exact URL).",
    "code": "taken_down",
}


def outcome(removed: list[int], *, created: bool = True) -> dict:
    return {
        "takedown": {
            "id": 3,
            "scope": "domain",
            "value": "pirate.example",
            "reason": "notice",
            "requested_by": "Mod",
            "created_at": "2026-01-05T10:00:00Z",
            "removed_sources": removed,
        },
        "created": created,
        "removed_now": removed,
        "items_withdrawn": 4,
    }


def scope(value: str) -> app_commands.Choice[str]:
    return next(choice for choice in TAKEDOWN_SCOPES if choice.value == value)


def test_client_posts_the_takedown_for_the_moderator(run, backend, api):
    backend.route("POST", "/api/v1/mod/takedowns", 201, outcome([5]))
    result = run(
        api.take_down(Actor(MEMBER_ID, "Mod"), scope="url", value="https://x.example/a", reason="r")
    )
    assert result["removed_now"] == [5]
    [request] = backend.requests
    assert request.body == {"scope": "url", "value": "https://x.example/a", "reason": "r"}
    assert request.headers["X-Discord-User"] == str(MEMBER_ID)


def test_mod_takedown_reports_what_went_privately(run, backend, api):
    backend.route("POST", "/api/v1/mod/takedowns", 201, outcome([5, 9]))
    cog = ModerationCog(fake_bot(), api, mod_channel_id=1)
    interaction = make_interaction()
    run(
        cog.takedown.callback(
            cog, interaction, scope=scope("domain"), value="pirate.example", reason="notice"
        )
    )
    assert_deferred_first(interaction)
    assert_all_private(interaction)
    text = sent_text(interaction)
    assert "Takedown #3 registered: 2 source(s) removed (#5, #9), 4 item(s) withdrawn" in text
    assert backend.requests[0].body["scope"] == "domain"


def test_mod_takedown_again_says_so(run, backend, api):
    backend.route("POST", "/api/v1/mod/takedowns", 200, outcome([], created=False))
    cog = ModerationCog(fake_bot(), api, mod_channel_id=1)
    interaction = make_interaction()
    run(cog.takedown.callback(cog, interaction, scope=scope("source"), value="5", reason="r"))
    assert "registered before" in sent_text(interaction)
    assert "no source left to remove" in sent_text(interaction)


@pytest.mark.parametrize(
    ("status", "detail"),
    [(403, "Only moderators may do this."), (400, "A SHA-256 is 64 hexadecimal digits.")],
)
def test_mod_takedown_refusals_are_private(run, backend, api, status, detail):
    backend.route("POST", "/api/v1/mod/takedowns", status, {"detail": detail})
    cog = ModerationCog(fake_bot(), api, mod_channel_id=1)
    interaction = make_interaction()
    run(cog.takedown.callback(cog, interaction, scope=scope("sha256"), value="x", reason="r"))
    assert detail in sent_text(interaction)
    assert_all_private(interaction)


def test_a_taken_down_submission_is_refused_privately(run, backend, api):
    backend.route("POST", "/api/v1/sources", 409, TAKEN_DOWN)
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, text="Some text.", url="https://x.example/a"))
    assert_deferred_first(interaction)
    assert_all_private(interaction)
    text = sent_text(interaction)
    assert "not received" in text and "takedown #3 of 2026-01-05" in text
    assert not cog.tracked


def test_the_refusal_is_a_conflict(run, backend, api):
    backend.route("POST", "/api/v1/sources", 409, TAKEN_DOWN)
    with pytest.raises(Conflict, match="takedown #3"):
        run(api.submit_text(Actor(MEMBER_ID, "Zoë"), "Some text."))
