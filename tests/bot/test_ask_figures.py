"""/ask lists the figures whose image matches the question on a page of their own: caption
(offsets, the words kept, a highlighting link), page and figure number, source and the
source's page; never an image."""

from bot.cogs.ask import MAX_FIGURES, AskCog, Pages
from tests.bot.conftest import make_interaction
from tests.bot.test_cogs import ask_result, assert_fits, fake_bot

CAPTION_LINK = "https://example.org/bees#:~:text=Figure%201"


def figure(figure_id: int, *, page: int | None = 3, caption: bool = True, big: bool = False):
    return {
        "id": figure_id,
        "similarity": 0.31,
        "page": page,
        "index": figure_id - 1,
        "caption": {
            "start": 120,
            "end": 180,
            "span_sha256": "ab" * 32,
            "text_start": "Figure 1: Waggle dance",
            "text_end": "against the sun.",
            "fragment": ("W" * 3000) if big else "Figure 1: Waggle dance … against the sun.",
            "link": CAPTION_LINK,
        }
        if caption
        else None,
        "source": {
            "id": 7,
            "title": ("T" * 3000) if big else "Bee paper",
            "url": "https://example.org/bees",
            "sha256": "cd" * 32,
        },
        "source_page": "https://alexandria.example/sources/7",
    }


def ask(run, api, backend, body):
    backend.route("GET", "/api/v1/ask", body=body)
    cog = AskCog(fake_bot(), api)
    interaction = make_interaction()
    run(cog.ask.callback(cog, interaction, query="bee dance"))
    return interaction.followup.send.await_args


def test_figures_come_last_with_caption_page_and_source_page(run, backend, api):
    figures = [figure(1), figure(2, page=None, caption=False)]
    body = {"query": "bee dance", "results": [ask_result(1)], "figures": figures}
    call = ask(run, api, backend, body)
    pages = call.kwargs["view"].pages
    assert isinstance(call.kwargs["view"], Pages) and len(pages) == 2
    last = pages[-1]
    assert last.title == "Figures"
    (field,) = last.fields
    assert field.name == "Matching figures"
    first, second = field.value.split("\n• ")
    assert first.startswith("• Bee paper, p. 3, figure 1 [120:180]")
    assert "\N{LEFT DOUBLE QUOTATION MARK}Figure 1: Waggle dance … against the sun." in first
    assert f"<{CAPTION_LINK}>" in first
    assert "source page <https://alexandria.example/sources/7>" in first
    # No page, no caption: the figure's number and the source's page still find it.
    assert second.startswith("Bee paper, figure 2\n")
    assert "source page <https://alexandria.example/sources/7>" in second
    assert call.kwargs["allowed_mentions"].to_dict() == {"parse": []}


def test_figures_answer_when_no_statement_does(run, backend, api):
    call = ask(run, api, backend, {"query": "bee dance", "results": [], "figures": [figure(1)]})
    assert "view" not in call.kwargs
    assert call.kwargs["embed"].title == "Figures"


def test_many_and_long_figures_fit_discord(run, backend, api):
    figures = [figure(n, big=True) for n in range(1, MAX_FIGURES + 3)]
    call = ask(run, api, backend, {"query": "q", "results": [ask_result(1)], "figures": figures})
    last = call.kwargs["view"].pages[-1]
    assert_fits(last)
    assert "more" in last.fields[0].value


def test_without_figures_there_is_no_figures_page(run, backend, api):
    body = {"query": "bee dance", "results": [ask_result(1)], "figures": []}
    call = ask(run, api, backend, body)
    assert call.kwargs["embed"].title != "Figures" and "view" not in call.kwargs
