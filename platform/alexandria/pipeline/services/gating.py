"""The copyright gate on extract_graph results: what a fact stores in the node's words (entity
names and aliases, predicate, value) must not repeat ``RETENTION_MAX_RUN_WORDS`` consecutive
words of the source. Its anchor may quote the source: the locator verifies the quote and only
a fragment of it is stored. Nor may a rejection's message, which is stored with the result
and quotes what the node wrote. The gate reads the source's fingerprint
(``sources.fingerprints``), so it holds after the text is purged too.
"""

from typing import Any

from alexandria.jobs.models import Job
from alexandria.pipeline.services.graph import (
    GraphCheck,
    KeptFact,
    RejectedFact,
    check_job_output,
    refused_wording,
)
from alexandria.pipeline.services.source_texts import screening_reference, source_index
from alexandria.sources.fingerprints import (
    CopiedRun,
    ShingleIndex,
    copy_reason,
    index_for_sources,
)
from alexandria.textproc.language import language_code


def _stored_words(fact: KeptFact) -> list[str]:
    entities = [fact.subject] + ([fact.object] if fact.object else [])
    names = [text for entity in entities for text in (entity.name, *entity.aliases)]
    return [*names, fact.predicate, fact.value]


def _withheld_if_copied(rejected: RejectedFact, index: ShingleIndex) -> RejectedFact:
    """A rejection whose message quotes what the node wrote, and so would store a copied
    run, keeps its reason but not its words."""
    runs = index.copied_runs(rejected.message)
    if not runs:
        return rejected
    return RejectedFact(rejected.index, rejected.reason, f"details withheld: {copy_reason(runs)}")


def check_graph_output(job: Job, output: dict[str, Any]) -> GraphCheck:
    """``graph.check_job_output`` with the copyright gate: kept facts that would store a copied
    run are rejected (``verbatim_copy``) and count against the result like any rejected fact;
    then the facts' own wording (``graph.refused_wording``: planted text, or a predicate or
    value the text near the anchor does not say)."""
    text_index = source_index(job.source)
    checked = check_job_output(job, output, text_index)
    reference = screening_reference(job.source)
    language = language_code(job.source.language)
    index = index_for_sources([job.source_id])
    runs_of: dict[str, list[CopiedRun]] = {}
    gated = GraphCheck(rejected=[_withheld_if_copied(r, index) for r in checked.rejected])
    for fact in checked.kept:
        runs = []
        for text in filter(None, _stored_words(fact)):
            if text not in runs_of:
                runs_of[text] = index.copied_runs(text)
            runs.extend(runs_of[text])
        if runs:
            gated.rejected.append(RejectedFact(fact.index, "verbatim_copy", copy_reason(runs)))
        elif refused := refused_wording(fact, text_index.source, reference, language=language):
            gated.rejected.append(refused)
        else:
            gated.kept.append(fact)
    gated.rejected.sort(key=lambda rejected: rejected.index)
    return gated
