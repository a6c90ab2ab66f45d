"""What of a pipeline result's output stays stored once its job is decided.

Copyright retention: an output may quote its source while it serves (validation, replication's
comparison, applying the canonical result); after that ``jobs.validation`` keeps only what
``trimmed_output`` leaves of it, on every result of the job, valid, set aside or rejected:

- an extract_graph fact's ``anchor``, a quote of the chunk, becomes the offsets the locator
  finds for it, ``{"$span": [start, end]}`` (the notation of payload spans), or
  ``{"$unlocated": why}``: no words of it stay;
- any other string that repeats ``RETENTION_MAX_RUN_WORDS`` consecutive words of the source
  becomes ``{"$dropped": "..."}``. The check reads the source's fingerprint, so it holds
  after the text is purged too;
- the output is marked ``"$trimmed"``: trimming it again changes nothing.
"""

from typing import Any

from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import TRIMMED
from alexandria.jobs.services.payloads import span
from alexandria.knowledge.models import ANCHOR_MAX_CHARS
from alexandria.pipeline.services.source_texts import SourceTextGone, source_index
from alexandria.sources.fingerprints import ShingleIndex, index_for_sources
from alexandria.textproc.anchors import AnchorMatch, SourceIndex
from jobkinds import extract_graph

DECIDED = "after its job was decided: anchors as offsets, copies of the source dropped"


def trimmed_output(job: Job, output: dict[str, Any]) -> dict[str, Any]:
    """The output of a result of ``job`` as it stays stored (see the module docstring)."""
    if TRIMMED in output or job.source_id is None:  # trimmed already, or no source to quote
        return output
    trimmed = dict(output)
    if job.kind == extract_graph.KIND.name:
        trimmed["facts"] = _facts_with_located_anchors(job, output.get("facts", []))
    copies = index_for_sources([job.source_id])
    return {**_without_copies(trimmed, copies), TRIMMED: DECIDED}


def _facts_with_located_anchors(job: Job, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        index = source_index(job.source)
    except SourceTextGone:
        index = None
    return [{**fact, "anchor": _located(fact.get("anchor"), job, index)} for fact in facts]


def _located(anchor: Any, job: Job, index: SourceIndex | None) -> dict[str, Any]:
    if not isinstance(anchor, str):
        return {"$unlocated": "not a quote"}
    if index is None:
        return {"$unlocated": "the source text is gone"}
    located = index.locate(
        anchor,
        hint_start=job.payload["chunk_start"],
        hint_end=job.payload["chunk_end"],
        max_len=ANCHOR_MAX_CHARS,
    )
    if isinstance(located, AnchorMatch):
        return span(located.start, located.end)
    return {"$unlocated": located.reason}


def _without_copies(value: Any, copies: ShingleIndex) -> Any:
    """``value`` with every string that repeats a run of the source's words dropped."""
    if isinstance(value, str):
        runs = copies.copied_runs(value)
        if not runs:
            return value
        longest = max(run.word_count for run in runs)
        return {"$dropped": f"repeated {longest} consecutive words of the source"}
    if isinstance(value, dict):
        return {key: _without_copies(item, copies) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_copies(item, copies) for item in value]
    return value
