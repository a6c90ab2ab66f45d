"""describe, rate_age and reconstruct results, stored on the source's profile.

describe and rate_age judge the whole text part by part; the profile is their combination
(map-reduce: ``combine_descriptions``, ``combine_ratings``), each part's judgement kept in
``SourceProfile.profile_parts`` with its offsets.

The reconstruction's fidelity is scored here, while the source text still exists (the purge
waits until every job of the source is finished).
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from alexandria.jobs.models import Job
from alexandria.jobs.services.payloads import SPAN
from alexandria.knowledge.services import reindex_source_items_after_commit
from alexandria.pipeline.models import SourceProfile
from alexandria.pipeline.services.source_texts import screening_reference
from alexandria.sources.fingerprints import copied_runs, copy_reason
from alexandria.textproc.grounding import entity_grounded
from alexandria.textproc.screening import planted_fields
from jobkinds import describe, rate_age, reconstruct

MAX_KEYWORDS = 20


@dataclass(frozen=True)
class ProfileCheck:
    """Why a result is invalid, and how many of its stored fields carry planted text."""

    reasons: list[str]
    planted_fields: int


def _own_words_reasons(job: Job, texts: list[str]) -> list[str]:
    runs = copied_runs(texts, [job.source_id])
    return [copy_reason(runs)] if runs else []


def stored_texts(kind: str, output: dict[str, Any]) -> dict[str, str]:
    """The free text of an output that the profile stores, by field (keywords one by one)."""
    if kind == describe.KIND.name:
        keywords = {f"keywords[{i}]": k for i, k in enumerate(output["keywords"])}
        return {
            "genre": output["genre"],
            "category": output["category"],
            **keywords,
            "summary": output["summary"],
        }
    if kind == rate_age.KIND.name:
        return {"suitability": output["suitability"]}
    return {"text": output["text"]}


def check_profile_output(job: Job, output: dict[str, Any]) -> ProfileCheck:
    """Why a describe / rate_age / reconstruct output is invalid: planted text (URLs, markup,
    instructions the source doesn't contain) in any field it would store, which rejects it
    whole, or a copy of the source (the copyright gate)."""
    texts = stored_texts(job.kind, output)
    reasons = planted_fields(texts, screening_reference(job.source))
    free = [texts["summary"]] if job.kind == describe.KIND.name else list(texts.values())
    return ProfileCheck([*reasons, *_own_words_reasons(job, free)], len(reasons))


def _stated(phrase: str, text: str) -> bool:
    return entity_grounded(phrase, (), text, 0, len(text), 0)


def score_fidelity(facts: list[dict[str, str]], reconstruction: str) -> dict[str, Any]:
    """Share of facts whose subject and object/value the reconstruction states."""
    covered = sum(
        1
        for fact in facts
        if _stated(fact["subject"], reconstruction) and _stated(fact["object"], reconstruction)
    )
    return {"facts": len(facts), "covered": covered, "fidelity": covered / len(facts)}


def _part_of(job: Job) -> dict[str, int]:
    """The offsets of the part of the source a describe / rate_age job judged."""
    start, end = job.payload["excerpt"][SPAN]
    return {"start": start, "end": end}


def _record_part(profile: SourceProfile, job: Job, judged: dict[str, Any]) -> list[dict]:
    """Keep one part's judgement (a later result for the same part replaces it); the parts of
    that kind so far, in text order."""
    part = _part_of(job)
    kept = [p for p in profile.profile_parts.get(job.kind, []) if p["start"] != part["start"]]
    parts = sorted([*kept, {**part, "job": job.pk, **judged}], key=lambda p: p["start"])
    profile.profile_parts = {**profile.profile_parts, job.kind: parts}
    return parts


def _vote(values: list[str]) -> str:
    """The most frequent value (case-insensitively), the earliest in the text on a tie."""
    counts = Counter(v.casefold() for v in values)
    return max(values, key=lambda v: (counts[v.casefold()], -values.index(v)))


def combine_descriptions(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One description from the parts': genre and category by vote, keywords by how many
    parts name them (then first mention), and the first part's summary (the opening of a
    text says what it is about; a further job to summarise the summaries isn't worth its
    cost)."""
    counts: Counter[str] = Counter()
    for part in parts:
        counts.update(set(part["keywords"]))
    ordered = list(dict.fromkeys(k for part in parts for k in part["keywords"]))
    ordered.sort(key=lambda k: -counts[k])  # stable: first mention breaks ties
    return {
        "genre": _vote([p["genre"] for p in parts]),
        "category": _vote([p["category"] for p in parts]),
        "keywords": ordered[:MAX_KEYWORDS],
        "summary": parts[0]["summary"],
    }


def combine_ratings(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The strictest part's rating; the reasons name the strongest levels over the whole text
    and the offsets of the parts that set the rating (offsets only: no text outlives the
    purge)."""
    rating = max(p["age_rating"] for p in parts)
    setting = [p for p in parts if p["age_rating"] == rating]
    return {
        "age_rating": rating,
        "reasons": {
            "violence": max((p["violence"] for p in parts), key=rate_age.LEVELS.index),
            "sexual_content": max((p["sexual_content"] for p in parts), key=rate_age.LEVELS.index),
            "suitability": setting[0]["suitability"],
            "passages": [[p["start"], p["end"]] for p in setting],
        },
        "job": setting[0]["job"],
    }


def _store_description(profile: SourceProfile, job: Job, output: dict[str, Any]) -> bool:
    """Store one part's description; whether the source's genre changed."""
    judged = {
        "genre": output["genre"].strip(),
        "category": output["category"].strip(),
        "keywords": list(dict.fromkeys(k.strip().casefold() for k in output["keywords"])),
        "summary": output["summary"].strip(),
    }
    combined = combine_descriptions(_record_part(profile, job, judged))
    changed = profile.genre.casefold() != combined["genre"].casefold()
    profile.genre = combined["genre"]
    profile.category = combined["category"]
    profile.keywords = combined["keywords"]
    profile.summary = combined["summary"]
    profile.describe_job = job
    return changed


def _store_rating(profile: SourceProfile, job: Job, output: dict[str, Any]) -> bool:
    """Store one part's rating; whether the source's rating changed."""
    judged = {
        "age_rating": output["age_rating"],
        "violence": output["violence"],
        "sexual_content": output["sexual_content"],
        "suitability": output["suitability"].strip(),
    }
    combined = combine_ratings(_record_part(profile, job, judged))
    changed = profile.age_rating != combined["age_rating"]
    profile.age_rating = combined["age_rating"]
    profile.age_reasons = combined["reasons"]
    profile.rate_age_job_id = combined["job"]
    return changed


def store_profile_result(job: Job, output: dict[str, Any], *, prompt_version: str) -> None:
    """Store a result on the source's profile. describe and rate_age judge one part of the
    text each (``planning.profile_parts``): the profile combines every part judged so far."""
    SourceProfile.objects.get_or_create(source=job.source)
    with transaction.atomic():
        # Parts of one source are applied concurrently: one at a time reads and combines.
        profile = SourceProfile.objects.select_for_update().get(source=job.source)
        indexed_changed = False
        if job.kind == describe.KIND.name:
            indexed_changed = _store_description(profile, job, output)
            profile.describe_prompt_version = prompt_version
        elif job.kind == rate_age.KIND.name:
            indexed_changed = _store_rating(profile, job, output)
            profile.rate_age_prompt_version = prompt_version
        elif job.kind == reconstruct.KIND.name:
            text = output["text"].strip()
            scored = score_fidelity(job.payload["facts"], text)
            profile.reconstruction = text
            profile.reconstruction_fidelity = scored["fidelity"]
            profile.fidelity_details = {
                **scored,
                "facts_in_document": job.source.facts.count(),
                "verbatim_runs": len(copied_runs([text], [job.source_id])),
            }
            profile.reconstruct_job = job
            profile.reconstruct_prompt_version = prompt_version
        else:
            raise ValueError(f"{job.kind} results are not stored on the profile")
        profile.save()
    if indexed_changed:
        # The index metadata of the source's items carries its age rating and genre.
        reindex_source_items_after_commit(job.source_id)
