"""describe, rate_age and reconstruct results, stored on the source's profile.

The reconstruction's fidelity is scored here, while the source text still exists (the purge
waits until every job of the source is finished).
"""

from dataclasses import dataclass
from typing import Any

from alexandria.jobs.models import Job
from alexandria.knowledge.services import reindex_source_items_after_commit
from alexandria.pipeline.models import SourceProfile
from alexandria.pipeline.services.source_texts import screening_reference
from alexandria.sources.fingerprints import copied_runs, copy_reason
from alexandria.textproc.grounding import entity_grounded
from alexandria.textproc.screening import planted_fields
from jobkinds import describe, rate_age, reconstruct


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


def store_profile_result(job: Job, output: dict[str, Any], *, prompt_version: str) -> None:
    profile, _ = SourceProfile.objects.get_or_create(source=job.source)
    if job.kind == describe.KIND.name:
        profile.genre = output["genre"].strip()
        profile.category = output["category"].strip()
        profile.keywords = list(dict.fromkeys(k.strip().casefold() for k in output["keywords"]))
        profile.summary = output["summary"].strip()
        profile.describe_job = job
        profile.describe_prompt_version = prompt_version
    elif job.kind == rate_age.KIND.name:
        profile.age_rating = output["age_rating"]
        profile.age_reasons = {
            "violence": output["violence"],
            "sexual_content": output["sexual_content"],
            "suitability": output["suitability"].strip(),
        }
        profile.rate_age_job = job
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
    if job.kind == rate_age.KIND.name:
        # The index metadata of the source's items carries its age rating.
        reindex_source_items_after_commit(job.source_id)
