"""Whole-text profiles: describe and rate_age judge every part of a source, and the profile
combines them (the age rating is the strictest part's, with that part's offsets as reason)."""

import itertools

import pytest

from alexandria.pipeline.models import SourceProfile
from alexandria.pipeline.services.planning import profile_parts
from alexandria.pipeline.services.profile import combine_descriptions, combine_ratings
from jobkinds import rate_age
from tests.pipeline.driving import drain, submit_document
from tests.pipeline.scripted import ScriptedModel, run_with_llm

VIOLENT = "One night the miller was stabbed in his mill, and his blood ran over the floor."


def village_chronicle() -> str:
    """About 15,000 characters of a calm chronicle; one violent passage after character 9,000."""
    years = [
        f"In the year {1700 + i} the council of Lindholm met {i % 7 + 2} times and counted "
        f"{40 + i} sacks of grain in the barn by the river."
        for i in range(140)
    ]
    paragraphs = [" ".join(years[i : i + 7]) for i in range(0, len(years), 7)]
    text = "\n\n".join(paragraphs)
    cut = text.index("\n\n", 9000)
    return f"{text[:cut]}\n\n{VIOLENT}{text[cut:]}"


def test_parts_cover_the_whole_text_within_the_limit():
    text = village_chronicle()
    parts = profile_parts(text, rate_age.EXCERPT_MAX_CHARS)
    assert len(parts) == 3
    assert parts[0][0] == 0 and parts[-1][1] == len(text)
    assert all(0 < end - start <= rate_age.EXCERPT_MAX_CHARS for start, end in parts)
    # Consecutive: only the whitespace at a cut is left out.
    assert all(
        not text[a_end:b_start].strip() for (_, a_end), (b_start, _) in itertools.pairwise(parts)
    )
    assert profile_parts("short text", 6000) == [(0, 10)]


@pytest.mark.django_db(transaction=True)
def test_a_violent_passage_past_the_first_part_sets_the_rating(
    member, node, fake_openai, bot_client
):
    fake_openai.responder = ScriptedModel()
    text = village_chronicle()
    source = submit_document(text, "The Lindholm chronicle", member)
    assert source.jobs.filter(kind="rate_age").count() == 3
    assert source.jobs.filter(kind="describe").count() == 3

    ran = drain(
        node,
        lambda kind, payload: run_with_llm(fake_openai.base_url, kind, payload),
        kinds=["describe", "rate_age"],
    )
    assert ran == 6

    profile = SourceProfile.objects.get(source=source)
    violent_at = text.index(VIOLENT)
    assert violent_at > rate_age.EXCERPT_MAX_CHARS
    assert profile.age_rating == 16
    assert profile.age_reasons["violence"] == "strong"
    ((start, end),) = profile.age_reasons["passages"]
    assert start <= violent_at and violent_at + len(VIOLENT) <= end
    assert len(profile.profile_parts["rate_age"]) == 3
    assert [p["age_rating"] for p in profile.profile_parts["rate_age"]] == [6, 16, 6]
    # Shown in the source API, offsets only.
    shown = bot_client.get(f"/api/v1/sources/{source.pk}").json()["profile"]
    assert shown["age_rating"] == 16
    assert shown["age_reasons"]["passages"] == [[start, end]]


def _described(genre, keywords, summary="s"):
    return {"genre": genre, "category": genre, "keywords": keywords, "summary": summary}


def test_descriptions_combine_by_vote_and_keyword_frequency():
    combined = combine_descriptions(
        [
            _described("Novel", ["river", "mill"], "The opening."),
            _described("chronicle", ["grain", "river"], "Later."),
            _described("Chronicle", ["council", "river", "grain"], "End."),
        ]
    )
    assert combined["genre"] == "chronicle"
    assert combined["keywords"] == ["river", "grain", "mill", "council"]
    assert combined["summary"] == "The opening."


def test_ratings_take_the_strictest_part_with_every_part_that_set_it():
    def rated(start, rating, violence):
        return {
            **{"start": start, "end": start + 10, "job": start, "age_rating": rating},
            **{"violence": violence, "sexual_content": "none", "suitability": str(start)},
        }

    combined = combine_ratings(
        [rated(0, 12, "moderate"), rated(10, 6, "mild"), rated(20, 12, "mild")]
    )
    assert combined["age_rating"] == 12
    assert combined["reasons"]["passages"] == [[0, 10], [20, 30]]
    assert combined["reasons"]["violence"] == "moderate"
    assert combined["job"] == 0
