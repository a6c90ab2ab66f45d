"""Cog callbacks with spec-set Discord mocks against a scripted backend over real HTTP."""

import json
import socket
from unittest import mock
from urllib.parse import parse_qs, urlparse

import discord
import pytest
from discord.ext import commands

from bot import limits, replies
from bot.client import AlexandriaClient
from bot.cogs.ask import AskCog, Pages
from bot.cogs.credit import CreditCog
from bot.cogs.moderation import ModerationCog
from bot.cogs.review import EditModal, ReportModal, ReviewButton, ReviewCog
from bot.cogs.submit import LongTextModal, SubmitCog
from bot.cogs.volunteer import VolunteerCog
from tests.bot.conftest import MEMBER_ID, OTHER_ID, make_interaction, make_user, sent, sent_text
from tests.support.fake_openai import Response

SOURCE = {
    "id": 7,
    "title": "Anchors",
    "url": "https://example.org/a",
    "char_count": 1234,
    "status": "chunked",
}


def fake_bot() -> commands.Bot:
    return mock.create_autospec(commands.Bot, instance=True)


def query(request) -> dict:
    return {key: values[0] for key, values in parse_qs(urlparse(request.path).query).items()}


def assert_deferred_first(interaction, *, ephemeral: bool = True):
    interaction.response.defer.assert_awaited_once()
    if ephemeral:
        assert interaction.response.defer.await_args.kwargs.get("ephemeral") is True


def assert_all_private(interaction):
    for call in sent(interaction):
        assert call.kwargs.get("ephemeral") is True


def embeds_sent(interaction) -> list[discord.Embed]:
    return [call.kwargs["embed"] for call in sent(interaction) if call.kwargs.get("embed")]


def assert_fits(embed: discord.Embed):
    assert len(embed) <= limits.EMBED_TOTAL_CHARS
    assert len(embed.description or "") <= limits.EMBED_DESCRIPTION_CHARS
    assert len(embed.fields) <= limits.EMBED_FIELDS
    assert all(len(field.value) <= limits.EMBED_FIELD_VALUE_CHARS for field in embed.fields)


@pytest.fixture
def unreachable_api(run):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AlexandriaClient(f"http://127.0.0.1:{port}", "x", timeout=2)
    yield client
    run(client.aclose())


# --- /submit ------------------------------------------------------------------------------


def test_submit_text_defers_then_confirms_and_follows_the_source(run, backend, api):
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": SOURCE})
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, text="Some text.", title="Anchors"))
    assert_deferred_first(interaction)
    assert_all_private(interaction)
    assert "source #7" in sent_text(interaction)
    assert backend.requests[0].body == {"text": "Some text.", "title": "Anchors"}
    assert cog.tracked[7].member.id == MEMBER_ID


def test_duplicate_submission_links_the_existing_source(run, backend, api):
    backend.route("POST", "/api/v1/sources", 200, {"duplicate": True, "source": SOURCE})
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, text="Some text."))
    text = sent_text(interaction)
    assert "already has this text" in text
    assert "https://example.org/a" in text
    assert not cog.tracked


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (403, {"detail": "This member is banned from Alexandria."}, {}, "banned"),
        (429, {"detail": "Request was throttled."}, {"Retry-After": "17"}, "17 seconds"),
        (413, {"detail": "The text is 3,000,000 bytes."}, {}, "too large"),
        (500, {"detail": "boom"}, {}, replies.TROUBLE),
    ],
)
def test_submit_errors_are_clear_and_never_say_received(
    run, backend, api, status, body, headers, expected
):
    backend.route("POST", "/api/v1/sources", status, body, headers)
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, text="Some text."))
    text = sent_text(interaction)
    assert expected in text
    assert "not received" in text
    assert "Received" not in text
    assert_all_private(interaction)
    assert not cog.tracked


def test_submit_with_backend_unreachable_is_not_received(run, unreachable_api):
    cog = SubmitCog(fake_bot(), unreachable_api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, text="Some text."))
    assert_deferred_first(interaction)
    assert "not received" in sent_text(interaction)
    assert replies.TROUBLE in sent_text(interaction)


def test_submit_without_text_opens_the_form(run, backend, api):
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": SOURCE})
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction))
    interaction.response.defer.assert_not_awaited()
    modal = interaction.response.send_modal.await_args.args[0]
    assert isinstance(modal, LongTextModal)

    submitted = make_interaction()
    modal.text._refresh_state(submitted, {"value": "A long pasted text."})
    modal.source_title._refresh_state(submitted, {"value": "Pasted"})
    run(modal.on_submit(submitted))
    assert_deferred_first(submitted)
    assert backend.requests[0].body["text"] == "A long pasted text."
    assert backend.requests[0].body["title"] == "Pasted"
    assert "source #7" in sent_text(submitted)


def test_submit_attachment_uploads_the_file(run, backend, api):
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": SOURCE})
    attachment = mock.create_autospec(discord.Attachment, instance=True)
    attachment.filename = "paper.pdf"
    attachment.read.return_value = b"%PDF-1.4 fake"
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, attachment=attachment))
    request = backend.requests[0]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert 'filename="paper.pdf"' in request.body
    assert "Content-Type: application/pdf" in request.body


def test_submit_refuses_unknown_file_types_without_calling_the_backend(run, backend, api):
    attachment = mock.create_autospec(discord.Attachment, instance=True)
    attachment.filename = "photo.png"
    cog = SubmitCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, attachment=attachment))
    assert ".pdf" in sent_text(interaction)
    assert_all_private(interaction)
    assert backend.requests == []
    attachment.read.assert_not_awaited()


def test_submit_cooldown_is_friendly(run, backend, api):
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": SOURCE})
    cog = SubmitCog(fake_bot(), api)
    for _ in range(3):
        run(cog.submit.callback(cog, make_interaction(), text="Some text."))
    interaction = make_interaction()
    run(cog.submit.callback(cog, interaction, text="Some text."))
    assert "Easy there" in sent_text(interaction)
    interaction.response.defer.assert_not_awaited()
    assert len(backend.requests) == 3
    # Other members are not slowed down by this one.
    other = make_interaction(OTHER_ID)
    run(cog.submit.callback(cog, other, text="Some text."))
    assert "source #7" in sent_text(other)


def test_status_changes_are_announced_by_dm_until_analysed(run, backend, api):
    statuses = iter(["chunked", "analysing", "analysing", "analysed"])
    backend.routes[("GET", "/api/v1/sources/7")] = lambda request: Response(
        200, {**SOURCE, "status": next(statuses)}
    )
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": SOURCE})
    bot = fake_bot()
    user = make_user()
    bot.get_user.return_value = user
    cog = SubmitCog(bot, api, status_notify="dm")
    run(cog.submit.callback(cog, make_interaction(), text="Some text."))
    for _ in range(4):
        run(cog.poll_once())
    messages = [call.args[0] for call in user.send.await_args_list]
    assert len(messages) == 2
    assert "being analysed" in messages[0]
    assert "has been analysed" in messages[1]
    assert not cog.tracked
    # The status is asked for as the submitter (sources are visible to their submitter).
    assert backend.requests[-1].headers["X-Discord-User"] == str(MEMBER_ID)


def test_status_changes_can_go_to_the_channel(run, backend, api):
    backend.route("GET", "/api/v1/sources/7", body={**SOURCE, "status": "analysed"})
    backend.route("POST", "/api/v1/sources", 201, {"duplicate": False, "source": SOURCE})
    bot = fake_bot()
    channel = mock.create_autospec(discord.TextChannel, instance=True)
    bot.get_channel.return_value = channel
    cog = SubmitCog(bot, api, status_notify="channel")
    run(cog.submit.callback(cog, make_interaction(), text="Some text."))
    run(cog.poll_once())
    message = channel.send.await_args.args[0]
    assert message.startswith(f"<@{MEMBER_ID}>")
    assert len(message) <= limits.MESSAGE_CHARS


# --- /review ------------------------------------------------------------------------------


SPAN_SHA256, SOURCE_SHA256 = "ab" * 32, "cd" * 32
SPAN_HASH = SPAN_SHA256
LINK = "https://example.org/l#:~:text=one%20of%20the%20largest%20libraries"


def citation(
    start: int = 30, end: int = 58, *, fragment: str = "one of the largest libraries", **extra
) -> dict:
    """A citation as the API gives one (an /ask source or a review task's anchor)."""
    return {
        "source_id": 1,
        "start": start,
        "end": end,
        "span_sha256": SPAN_SHA256,
        "source_sha256": SOURCE_SHA256,
        "text_start": fragment,
        "text_end": "",
        "fragment": fragment,
        "link": LINK if fragment else "https://example.org/l",
        **extra,
    }


def task(task_id: int = 11, *, fragment: str = "one of the largest libraries") -> dict:
    return {
        "id": task_id,
        "expires_at": "2030-01-01T00:00:00Z",
        "resumed": False,
        "item": {"id": 5, "kind": "hypothesis", "layer": 1, "text": "It was large.", "details": {}},
        "anchors": [citation(fragment=fragment)],
        "sources": [{"source_id": 1, "title": "Libraries", "url": "https://example.org/l"}],
        "edit_proposals": [],
    }


def answered(verdict: str = "supported", **extra) -> dict:
    return {
        "task_id": 11,
        "item_id": 5,
        "verdict": verdict,
        "repeated": False,
        "settled": None,
        "edit_proposal_id": None,
        "report_id": None,
        **extra,
    }


def test_review_shows_the_task_with_persistent_buttons(run, backend, api):
    backend.route("GET", "/api/v1/reviews/next", body={"task": task()})
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    assert_deferred_first(interaction)
    call = interaction.followup.send.await_args
    assert call.kwargs["ephemeral"] is True
    embed, view = call.kwargs["embed"], call.kwargs["view"]
    assert "chars 30\N{EN DASH}58" in embed.fields[0].name
    evidence = embed.fields[0].value
    assert "> one of the largest libraries" in evidence
    assert f"<{LINK}>" in evidence
    assert f"span sha256 `{SPAN_SHA256}`" in evidence
    assert f"source sha256 `{SOURCE_SHA256}`" in evidence
    assert view.timeout is None
    custom_ids = [child.custom_id for child in view.children]
    assert f"review:supported:11:{MEMBER_ID}" in custom_ids
    assert f"review:edit:11:{MEMBER_ID}" in custom_ids
    assert all(len(custom_id) <= 100 for custom_id in custom_ids)


def test_review_evidence_without_a_quote_still_locates_the_passage(run, backend, api):
    backend.route("GET", "/api/v1/reviews/next", body={"task": task(fragment="")})
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    field = interaction.followup.send.await_args.kwargs["embed"].fields[0]
    assert "chars 30\N{EN DASH}58" in field.name
    assert "no words of this passage are kept" in field.value
    assert "<https://example.org/l>" in field.value
    assert SPAN_SHA256 in field.value and SOURCE_SHA256 in field.value


def test_review_embed_fits_even_with_huge_evidence(run, backend, api):
    huge = task()
    huge["item"]["text"] = "T" * 9000
    huge["anchors"] = [citation(n, n + 2000, fragment="f" * 2000) for n in range(40)]
    backend.route("GET", "/api/v1/reviews/next", body={"task": huge})
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    assert_fits(embeds_sent(interaction)[0])


def provenance_node(item_id: int, layer: int, depth: int, derived_from=(), **extra) -> dict:
    return {
        "id": item_id,
        "kind": "hypothesis",
        "layer": layer,
        "status": "accepted",
        "text": f"Claim {item_id}",
        "depth": depth,
        "derived_from": list(derived_from),
        "anchors": [citation(title="Libraries", url="https://example.org/l")] if layer == 1 else [],
        **extra,
    }


def test_review_of_an_abstraction_shows_its_provenance_tree(run, backend, api):
    layered = task()
    layered["item"].update(id=9, layer=3, text="Ancient scholarship was religious.")
    layered["anchors"], layered["sources"] = [], []
    layered["provenance"] = {
        "items": [
            provenance_node(7, 2, 1, [1, 2]),
            provenance_node(8, 2, 1, [2], text="", status="hidden"),
            provenance_node(1, 1, 2),
            provenance_node(2, 1, 2),
        ],
        "omitted": 0,
    }
    backend.route("GET", "/api/v1/reviews/next", body={"task": layered})
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    embed = interaction.followup.send.await_args.kwargs["embed"]
    [field] = embed.fields
    assert field.name == "Evidence: what #9 rests on"
    lines = field.value.split("\n")
    assert lines[0] == "• #7 (layer 2, accepted) Claim 7"
    assert lines[1].endswith("• #1 (layer 1, accepted) Claim 1")
    anchor = lines[2]
    assert "Libraries [30:58]" in anchor and "one of the largest libraries" in anchor
    assert f"<{LINK}>" in anchor and f"span `{SPAN_HASH[:16]}…`" in anchor
    assert any(line.endswith("#8 (layer 2, hidden) *(hidden)*") for line in lines)
    assert sum("#2 (layer 1" in line for line in lines) == 1  # shared bases are shown once
    assert "more" not in field.value


def test_review_evidence_is_cut_and_counts_what_it_leaves_out(run, backend, api):
    layered = task()
    layered["item"].update(layer=5)
    deep = [provenance_node(n, 5 - n, n, [n + 1]) for n in range(1, 5)]
    wide = [provenance_node(100 + n, 1, 1, text="w" * 900) for n in range(30)]
    layered["provenance"] = {"items": deep + wide, "omitted": 7}
    backend.route("GET", "/api/v1/reviews/next", body={"task": layered})
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert_fits(embed)
    evidence = [f for f in embed.fields if f.name.startswith("Evidence")]
    assert len(evidence) == 3
    shown = sum(
        line.lstrip("\N{EM SPACE}").startswith("• #")
        for f in evidence
        for line in f.value.split("\n")
    )
    assert "#4 (layer 1" not in "".join(f.value for f in evidence)  # below the depth shown
    assert evidence[-1].value.endswith(f"…and {len(deep) + len(wide) - shown + 7} more")


def test_review_with_nothing_left(run, backend, api):
    backend.route("GET", "/api/v1/reviews/next", body={"task": None})
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    assert "Nothing left" in sent_text(interaction)
    assert_all_private(interaction)


def test_review_when_banned(run, backend, api):
    backend.route(
        "GET", "/api/v1/reviews/next", 403, {"detail": "This member is banned from Alexandria."}
    )
    cog = ReviewCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.review.callback(cog, interaction))
    assert "banned" in sent_text(interaction)
    assert_all_private(interaction)


def test_review_buttons_rebuild_from_their_custom_id(run):
    template = ReviewButton.__discord_ui_compiled_template__
    match = template.fullmatch(f"review:not_supported:42:{MEMBER_ID}")
    button = run(ReviewButton.from_custom_id(make_interaction(), mock.Mock(), match))
    assert (button.action, button.task_id, button.member_id) == ("not_supported", 42, MEMBER_ID)
    with pytest.raises(ValueError):
        run(
            ReviewButton.from_custom_id(
                make_interaction(), mock.Mock(), template.fullmatch("review:bogus:1:2")
            )
        )


def test_only_the_member_who_asked_can_press_the_buttons(run, backend, api):
    button = ReviewButton("supported", 11, MEMBER_ID)
    stranger = make_interaction(OTHER_ID, api=api)
    assert run(button.interaction_check(stranger)) is False
    assert "belongs to someone else" in sent_text(stranger)
    assert_all_private(stranger)
    assert backend.requests == []
    assert run(button.interaction_check(make_interaction(MEMBER_ID, api=api))) is True


def test_pressing_a_verdict_records_it_and_removes_the_buttons(run, backend, api):
    backend.route(
        "POST", "/api/v1/reviews/tasks/11/answer", body=answered("supported", settled="accepted")
    )
    interaction = make_interaction(api=api)
    run(ReviewButton("supported", 11, MEMBER_ID).callback(interaction))
    interaction.response.defer.assert_awaited_once()
    assert backend.requests[0].body["verdict"] == "supported"
    interaction.edit_original_response.assert_awaited_once_with(view=None)
    text = sent_text(interaction)
    assert "Recorded" in text
    assert "accepted" in text
    assert_all_private(interaction)


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (409, {"detail": "You already answered this task with 'skip'."}, {}, "Not recorded"),
        (429, {"detail": "Throttled."}, {"Retry-After": "3"}, "3 seconds"),
        (502, {"detail": "Bad gateway"}, {}, replies.TROUBLE),
    ],
)
def test_answer_errors_keep_the_buttons(run, backend, api, status, body, headers, expected):
    backend.route("POST", "/api/v1/reviews/tasks/11/answer", status, body, headers)
    interaction = make_interaction(api=api)
    run(ReviewButton("unclear", 11, MEMBER_ID).callback(interaction))
    assert expected in sent_text(interaction)
    interaction.edit_original_response.assert_not_awaited()
    assert_all_private(interaction)


def test_edit_button_opens_a_form_and_sends_the_wording(run, backend, api):
    backend.route(
        "POST", "/api/v1/reviews/tasks/11/answer", body=answered("supported", edit_proposal_id=3)
    )
    interaction = make_interaction(api=api)
    run(ReviewButton("edit", 11, MEMBER_ID).callback(interaction))
    modal = interaction.response.send_modal.await_args.args[0]
    assert isinstance(modal, EditModal)
    assert backend.requests == []

    submitted = make_interaction(api=api)
    modal.wording._refresh_state(submitted, {"value": "It was one of the largest."})
    run(modal.on_submit(submitted))
    submitted.response.defer.assert_awaited_once()
    assert backend.requests[0].body == {
        "verdict": "supported",
        "comment": "",
        "proposed_text": "It was one of the largest.",
    }
    assert "edit proposal #3" in sent_text(submitted)


def test_report_button_asks_why_and_reports(run, backend, api):
    backend.route("POST", "/api/v1/reviews/tasks/11/answer", body=answered("report", report_id=9))
    interaction = make_interaction(api=api)
    run(ReviewButton("report", 11, MEMBER_ID).callback(interaction))
    modal = interaction.response.send_modal.await_args.args[0]
    assert isinstance(modal, ReportModal)
    submitted = make_interaction(api=api)
    modal.reason._refresh_state(submitted, {"value": "Spam."})
    run(modal.on_submit(submitted))
    assert backend.requests[0].body["verdict"] == "report"
    assert backend.requests[0].body["comment"] == "Spam."
    assert "Moderators have been told" in sent_text(submitted)


# --- /ask ---------------------------------------------------------------------------------


def ask_result(item_id: int, *, big: bool = False) -> dict:
    text = "H" * 5000 if big else f"Hypothesis {item_id}"
    return {
        "item": {
            "id": item_id,
            "kind": "hypothesis",
            "layer": 1,
            "text": text,
            "status": "accepted",
        },
        "score": 0.9,
        "pro": [{"id": 100 + n, "text": "p" * 900, "status": "accepted"} for n in range(8)],
        "contra": [{"id": 200, "text": "Contra", "status": "pending"}],
        "instructions": [],
        "sources": [
            citation(
                30 + n,
                58 + n,
                fragment="f" * (1500 if big else 20),
                title="Libraries",
                url="https://example.org/l",
            )
            for n in range(30 if big else 1)
        ],
    }


@pytest.mark.parametrize(("nsfw", "age"), [(False, "12"), (True, "18")])
def test_ask_pages_results_and_follows_the_channel_age_rating(run, backend, api, nsfw, age):
    results = [ask_result(1, big=True), ask_result(2), ask_result(3)]
    backend.route("GET", "/api/v1/ask", body={"query": "library", "results": results})
    cog = AskCog(fake_bot(), api)
    interaction = make_interaction(nsfw=nsfw)
    run(cog.ask.callback(cog, interaction, query="library"))
    interaction.response.defer.assert_awaited_once()
    params = query(backend.requests[0])
    assert params == {"q": "library", "min_status": "accepted", "max_age_rating": age}
    call = interaction.followup.send.await_args
    view = call.kwargs["view"]
    assert isinstance(view, Pages)
    assert len(view.pages) == 3
    for page in view.pages:
        assert_fits(page)
    assert "chars 30\N{EN DASH}58" in view.pages[1].fields[0].name


def listed(item_id: int, text: str, *, sources: int = 1) -> dict:
    """An item as the API lists it under a result, with its own citations."""
    return {
        "id": item_id,
        "kind": "hypothesis",
        "layer": 1,
        "text": text,
        "status": "accepted",
        "sources": [
            citation(30 + n, 58 + n, title="Libraries", url="https://example.org/l")
            for n in range(sources)
        ],
    }


def test_ask_shows_the_summary_with_its_citations_then_every_item_cited(run, backend, api):
    result = ask_result(1)
    result["pro"] = [listed(101, "Pro @everyone"), listed(102, "Pro two", sources=4)]
    result["contra"] = [listed(201, "Contra one")]
    result["related"] = [listed(301, "Related one")]
    result["instructions"] = [{**listed(401, "Do this"), "kind": "instruction"}]
    summary = {
        "text": "Libraries were large [1] and argued about [101].",
        "cited_item_ids": [1, 101],
    }
    body = {"query": "library", "results": [result], "summary": summary}
    backend.route("GET", "/api/v1/ask", body=body)
    cog = AskCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="library"))

    call = interaction.followup.send.await_args
    assert call.kwargs["allowed_mentions"].to_dict() == {"parse": []}
    first, page = call.kwargs["view"].pages
    assert call.kwargs["embed"] is first
    assert (first.title, first.description) == ("Summary", summary["text"])
    cited = {field.name: field.value for field in first.fields}
    assert list(cited) == ["Cited #1 · hypothesis, accepted", "Cited #101 · hypothesis, accepted"]
    line = "Libraries [30:58] \N{LEFT DOUBLE QUOTATION MARK}one of the largest libraries"
    main, pro = cited.values()
    assert "Libraries [30:58] \N{LEFT DOUBLE QUOTATION MARK}" + "f" * 20 in main
    assert line in pro and f"<{LINK}>" in pro
    assert "Pro @everyone" in cited["Cited #101 · hypothesis, accepted"]

    groups = {field.name: field.value for field in page.fields}
    assert {"Supporting", "Contradicting", "Related", "Instructions"} <= groups.keys()
    for name in ("Supporting", "Contradicting", "Related", "Instructions"):
        assert line in groups[name], name
    assert "…and 2 more" in groups["Supporting"]  # Pro two's other citations
    for embed in (first, page):
        assert_fits(embed)


def test_ask_without_summary_or_related_lists(run, backend, api):
    result = ask_result(1)
    result.pop("pro")
    body = {"query": "library", "results": [result], "summary": None}
    backend.route("GET", "/api/v1/ask", body=body)
    cog = AskCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="library"))
    call = interaction.followup.send.await_args
    assert "view" not in call.kwargs
    embed = call.kwargs["embed"]
    assert embed.title == "Hypothesis #1 (layer 1)"
    names = [field.name for field in embed.fields]
    assert "Contradicting" in names and "Related" not in names and "Supporting" not in names
    # A listed item without citations says so rather than looking cited.
    contra = embed.fields[names.index("Contradicting")].value
    assert "(no citation)" in contra


def test_ask_summary_and_lists_fit_discord_however_much_is_cited(run, backend, api):
    result = ask_result(1, big=True)
    many = [listed(1000 + n, "x" * 3000, sources=5) for n in range(12)]
    for key in ("pro", "contra", "related", "instructions"):
        result[key] = many
    summary = {"text": "S" * 5000, "cited_item_ids": [1, *(item["id"] for item in many), 99]}
    backend.route(
        "GET", "/api/v1/ask", body={"query": "q", "results": [result], "summary": summary}
    )
    cog = AskCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="q"))
    first, page = interaction.followup.send.await_args.kwargs["view"].pages
    for embed in (first, page):
        assert_fits(embed)
    assert first.fields[0].name == "Cited #1 · hypothesis, accepted"
    assert page.fields[0].name.startswith("Libraries · chars 30")
    assert any(field.name == "More sources" for field in page.fields)


def test_ask_pages_turn_only_for_the_asker(run, backend, api):
    pages = [discord.Embed(title="one"), discord.Embed(title="two")]
    view = Pages(pages, MEMBER_ID)
    assert view.previous.disabled
    stranger = make_interaction(OTHER_ID)
    assert run(view.interaction_check(stranger)) is False
    assert_all_private(stranger)
    owner = make_interaction()
    run(view.next.callback(owner))
    assert owner.response.edit_message.await_args.kwargs["embed"].title == "two"
    assert view.next.disabled


def test_ask_without_results_and_with_backend_trouble(run, backend, api):
    backend.route("GET", "/api/v1/ask", body={"query": "x", "results": []})
    cog = AskCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="x"))
    assert "no grounded answer" in sent_text(interaction)
    backend.route("GET", "/api/v1/ask", 500, {"detail": "boom"})
    failing = make_interaction()
    run(cog.ask.callback(cog, failing, query="x"))
    assert replies.TROUBLE in sent_text(failing)
    # The public "thinking…" message goes, so the error can be private.
    failing.delete_original_response.assert_awaited_once()
    assert_all_private(failing)


# --- /volunteer, /leaderboard, /me --------------------------------------------------------


def test_volunteer_register_shows_the_token_once_privately(run, backend, api):
    backend.route(
        "POST",
        "/api/v1/nodes",
        201,
        {
            "id": 4,
            "name": "desk",
            "token": "secret-token",
            "capabilities": {},
            "trust": 0.0,
            "start_command": "alexandria-worker --server https://a.example --token secret-token",
        },
    )
    cog = VolunteerCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.register.callback(cog, interaction, name="desk", runner="both", models="qwen, llama"))
    assert_deferred_first(interaction)
    assert_all_private(interaction)
    assert "alexandria-worker --server https://a.example --token secret-token" in sent_text(
        interaction
    )
    body = backend.requests[0].body
    assert body["name"] == "desk"
    assert "clip_score" in body["capabilities"]["kinds"]
    assert "extract_graph" in body["capabilities"]["kinds"]
    assert body["capabilities"]["models"] == ["qwen", "llama"]


def test_volunteer_register_error(run, backend, api):
    backend.route(
        "POST",
        "/api/v1/nodes",
        400,
        {"detail": "You already have a node named 'desk'; pick another name."},
    )
    cog = VolunteerCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.register.callback(cog, interaction, name="desk"))
    assert "pick another name" in sent_text(interaction)


def test_volunteer_status_lists_nodes(run, backend, api):
    node = {"id": 4, "name": "desk", "online": True, "trust": 0.5, "jobs_done": 3, "credit": "1.5"}
    backend.route("GET", "/api/v1/nodes", body={"count": 1, "results": [node]})
    cog = VolunteerCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.status.callback(cog, interaction))
    [embed] = embeds_sent(interaction)
    assert "desk (#4) · online" in embed.fields[0].name


def test_volunteer_status_says_why_a_node_is_paused(run, backend, api):
    node = {
        "id": 5,
        "name": "attic",
        "online": True,
        "trust": 0.1,
        "releases": 31,
        "paused_until": "2999-01-01T00:00:00Z",
        "pause_reason": "it gave back 31 leases unfinished in 10 minutes",
        "reported_state": "stopped",
        "reported_reason": "the node's model server was killed by signal 11 (SIGSEGV)",
    }
    backend.route("GET", "/api/v1/nodes", body={"count": 1, "results": [node]})
    cog = VolunteerCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.status.callback(cog, interaction))
    [embed] = embeds_sent(interaction)
    value = embed.fields[0].value
    assert "gave back 31" in value
    assert "paused by the server: it gave back 31 leases unfinished" in value
    assert "the node says it stopped: the node's model server was killed by signal 11" in value
    node["paused_until"] = "2000-01-01T00:00:00Z"  # a pause that is over is not shown
    interaction = make_interaction()
    run(cog.status.callback(cog, interaction))
    assert "paused by the server" not in embeds_sent(interaction)[0].fields[0].value


def test_me_shows_reputation_and_reasons(run, backend, api):
    backend.route("GET", "/api/v1/me", body={"id": 1, "display_name": "Zoë", "reputation": 1.1})
    backend.route(
        "GET",
        "/api/v1/me/reputation",
        body={
            "reputation": 1.1,
            "events": [{"delta": 0.1, "reason": "Agreed with the consensus on item #5."}],
        },
    )
    cog = CreditCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.me.callback(cog, interaction))
    [embed] = embeds_sent(interaction)
    assert "1.10" in embed.description
    assert "+0.10" in embed.fields[0].value
    assert_all_private(interaction)


def test_leaderboard_fits(run, backend, api):
    entries = [
        {"rank": n, "display_name": "n" * 100, "credit": "12.000", "jobs": 4, "breakdown": []}
        for n in range(1, 26)
    ]
    backend.route("GET", "/api/v1/leaderboard", body={"entries": entries})
    cog = CreditCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.leaderboard.callback(cog, interaction, size=25))
    assert query(backend.requests[0]) == {"limit": "25"}
    assert_fits(embeds_sent(interaction)[0])


# --- /mod and the report relay ------------------------------------------------------------


def test_mod_hide_refused_for_non_moderators(run, backend, api):
    backend.route(
        "POST", "/api/v1/mod/items/5/hide", 403, {"detail": "Only moderators may do this."}
    )
    cog = ModerationCog(fake_bot(), api, mod_channel_id=1)
    interaction = make_interaction()
    run(cog.hide.callback(cog, interaction, item_id=5, reason="spam"))
    assert "Only moderators" in sent_text(interaction)
    assert_all_private(interaction)


def test_mod_ban(run, backend, api):
    backend.route(
        "POST",
        f"/api/v1/mod/members/{OTHER_ID}/ban",
        body={"discord_id": str(OTHER_ID), "is_banned": True, "changed": True},
    )
    cog = ModerationCog(fake_bot(), api, mod_channel_id=1)
    interaction = make_interaction()
    run(cog.ban.callback(cog, interaction, member=make_user(OTHER_ID), reason="abuse"))
    assert backend.requests[0].body == {"reason": "abuse"}
    assert "is banned" in sent_text(interaction)


def test_reports_are_relayed_once_with_the_admin_link(run, backend, api):
    report = {
        "id": 3,
        "item_id": 5,
        "item_text": "x" * 6000,
        "item_status": "pending",
        "reporter_discord_id": str(MEMBER_ID),
        "reporter_name": "Zoë",
        "comment": "Spam.",
        "created_at": "2030-01-01T00:00:00Z",
        "relayed_at": None,
        "admin_url": "https://a.example/admin/knowledge/knowledgeitem/5/change/",
    }
    pending = [report]
    backend.routes[("GET", "/api/v1/reports")] = lambda request: Response(
        200, {"results": list(pending)}
    )

    def relayed(request):
        pending.clear()
        return Response(200, {"id": 3, "relayed_at": "2030-01-01T00:00:01Z"})

    backend.routes[("POST", "/api/v1/reports/3/relayed")] = relayed
    bot = fake_bot()
    bot.user = make_user(900000000000000001, "Alexandria")
    channel = mock.create_autospec(discord.TextChannel, instance=True)
    bot.get_channel.return_value = channel
    cog = ModerationCog(bot, api, mod_channel_id=600000000000000001)
    assert run(cog.relay_once()) == 1
    assert run(cog.relay_once()) == 0
    embed = channel.send.await_args.kwargs["embed"]
    assert embed.url == report["admin_url"]
    assert_fits(embed)
    bot.get_channel.assert_called_with(600000000000000001)
    assert json.dumps(embed.to_dict())  # serialisable as Discord expects
