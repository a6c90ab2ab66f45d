"""extract_graph results: ground every fact in the source, then store entities/anchors/facts.

A fact is kept only if its anchor is located inside its chunk (exact, tolerant or fuzzy match,
trimmed to ``ANCHOR_MAX_CHARS``) and every entity it names is mentioned near the anchor or is
a canonical entity of the document (named in the title or in two or more chunks). A name the
output forgot to declare among its entities is accepted (as a new entity) only when it is
mentioned near the anchor: small models often skip the declaration; grounding is not skipped.
Checking is deterministic, so ``validate`` and ``apply`` run the same ``check_graph``. A kept
fact's own words are checked after the copyright gate (``refused_wording``, applied by
``gating``): planted text (URLs, markup, instructions the source doesn't contain) rejects the
whole result; a predicate or value with more than ``MAX_UNGROUNDED_WORDS`` content words the
text near its anchor doesn't contain rejects the fact.

The locator verifies the model's whole quote; the anchor stored keeps only the span's offsets,
its hash and the few words at its ends that the source's retention limits allow
(``textproc.fragments``).
"""

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from alexandria.jobs.models import Job
from alexandria.knowledge.models import ANCHOR_MAX_CHARS, Anchor, Entity, Fact
from alexandria.pipeline.services.source_texts import retained_text
from alexandria.sources.models import Chunk, Source
from alexandria.textproc.anchors import AnchorMatch, SourceIndex
from alexandria.textproc.fragments import QuoteBudget, quoted_ranges, span_sha256
from alexandria.textproc.grounding import entity_grounded, ungrounded_words
from alexandria.textproc.screening import Reference, planted
from jobkinds import extract_graph

# Facts of chunk i get temporal ids i * TEMPORAL_STRIDE + 1, + 2, ...: document order.
TEMPORAL_STRIDE = 1000
GROUNDING_WINDOW = 300
# The type of an entity a fact names without the output declaring it.
UNDECLARED_ENTITY_TYPE = "thing"
# A result is invalid when more than this share of its facts is rejected.
MAX_REJECTED_SHARE = 0.5
# How many per-fact reasons an invalid result's report quotes.
MAX_REPORTED_REASONS = 20
# A predicate or value may add this many content words of its own to what the text near the
# anchor says (a label such as "occupation", "born in year"); more is not from the source.
MAX_UNGROUNDED_WORDS = 1
# A fact that carries planted text (URLs, markup, instructions the source doesn't contain)
# makes its whole result invalid: that is no model's slip.
PLANTED = "planted_text"

assert extract_graph.MAX_FACTS < TEMPORAL_STRIDE


@dataclass(frozen=True)
class EntitySpec:
    name: str
    type: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class KeptFact:
    index: int
    kind: str
    subject: EntitySpec
    predicate: str
    object: EntitySpec | None
    value: str
    match: AnchorMatch
    model_order: int


@dataclass(frozen=True)
class RejectedFact:
    index: int
    reason: str
    message: str

    def describe(self) -> str:
        return f"fact {self.index}: {self.reason}: {self.message}"


@dataclass
class GraphCheck:
    kept: list[KeptFact] = field(default_factory=list)
    rejected: list[RejectedFact] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """Why the whole result is invalid (empty when it is acceptable)."""
        total = len(self.kept) + len(self.rejected)
        if not self.rejected:
            return []
        planted_facts = [r for r in self.rejected if r.reason == PLANTED]
        if planted_facts:
            head = f"{len(planted_facts)} of {total} facts carry planted text"
            return [head, *(r.describe() for r in planted_facts[:MAX_REPORTED_REASONS])]
        if not self.kept or len(self.rejected) / total > MAX_REJECTED_SHARE:
            head = f"{len(self.rejected)} of {total} facts rejected"
            details = [r.describe() for r in self.rejected[:MAX_REPORTED_REASONS]]
            return [head, *details]
        return []


def clean_name(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip()


def name_key(name: str) -> str:
    return clean_name(name).casefold()


def _entity_lookup(entities: list[dict[str, Any]]) -> dict[str, EntitySpec]:
    """Map each declared name (first) and alias (after all names) to its entity."""
    specs = []
    for raw in entities:
        name = clean_name(raw["name"])
        aliases = tuple(
            dict.fromkeys(a for a in map(clean_name, raw.get("aliases", [])) if a and a != name)
        )
        specs.append(EntitySpec(name, clean_name(raw["type"]).casefold(), aliases))
    lookup: dict[str, EntitySpec] = {}
    for spec in specs:
        lookup.setdefault(name_key(spec.name), spec)
    for spec in specs:
        for alias in spec.aliases:
            lookup.setdefault(name_key(alias), spec)
    return lookup


class DocumentMentions:
    """Which chunks of a document mention a name (whole words, case-insensitive)."""

    def __init__(self, text: str, title: str, chunk_starts: list[int]) -> None:
        self.text = text
        self.title = title
        self.chunk_starts = chunk_starts
        self._cache: dict[str, bool] = {}

    def is_canonical(self, entity: EntitySpec) -> bool:
        """Named in the document title, or in at least two chunks."""
        key = name_key(entity.name) + "\x00" + "\x00".join(map(name_key, entity.aliases))
        if key not in self._cache:
            self._cache[key] = self._compute(entity)
        return self._cache[key]

    def _compute(self, entity: EntitySpec) -> bool:
        names = (entity.name, *entity.aliases)
        if self.title and entity_grounded(
            entity.name, entity.aliases, self.title, 0, len(self.title), 0
        ):
            return True
        chunks: set[int] = set()
        for name in names:
            words = re.findall(r"\w+", name)
            if not words:
                continue
            pattern = r"\b" + r"\W+".join(map(re.escape, words)) + r"(?:'s|s|es)?\b"
            for found in re.finditer(pattern, self.text, flags=re.IGNORECASE):
                chunks.add(bisect.bisect_right(self.chunk_starts, found.start()) - 1)
                if len(chunks) >= 2:
                    return True
        return False


def _resolve(name: str, lookup: dict[str, EntitySpec]) -> tuple[EntitySpec, bool]:
    """The declared entity a fact names, and True; or, for a name the output did not declare,
    a new entity (typed like a declared one spelled the same up to case and plural, else
    "thing") and False: kept only if the text near the anchor names it."""
    declared = lookup.get(name_key(name))
    if declared is not None:
        return declared, True
    cleaned = clean_name(name)
    for spec in lookup.values():
        if _same_words(cleaned, spec.name):
            return EntitySpec(cleaned, spec.type, ()), False
    return EntitySpec(cleaned, UNDECLARED_ENTITY_TYPE, ()), False


def _same_words(a: str, b: str) -> bool:
    return entity_grounded(a, (), b, 0, len(b), 0) and entity_grounded(b, (), a, 0, len(a), 0)


def check_graph(
    output: dict[str, Any],
    *,
    index: SourceIndex,
    chunk_start: int,
    chunk_end: int,
    mentions: DocumentMentions,
) -> GraphCheck:
    """Decide for every fact of an extract_graph output whether it is grounded."""
    lookup = _entity_lookup(output.get("entities", []))
    text = index.source
    check = GraphCheck()
    for i, fact in enumerate(output.get("facts", [])):
        names = [fact["subject"]] + ([fact["object"]] if fact["kind"] == "relation" else [])
        resolved = [_resolve(name, lookup) for name in names]
        if any(not clean_name(name) for name in names):
            check.rejected.append(RejectedFact(i, "unknown_entity", "an entity name is blank"))
            continue
        located = index.locate(
            fact["anchor"], hint_start=chunk_start, hint_end=chunk_end, max_len=ANCHOR_MAX_CHARS
        )
        if not isinstance(located, AnchorMatch):
            check.rejected.append(RejectedFact(i, f"anchor_{located.reason}", located.message))
            continue
        if located.outside_window:
            check.rejected.append(
                RejectedFact(
                    i,
                    "anchor_outside_chunk",
                    f"the anchor is found at [{located.start}:{located.end}], outside the "
                    f"chunk [{chunk_start}:{chunk_end}]",
                )
            )
            continue
        undeclared = [
            entity.name
            for entity, declared in resolved
            if not declared
            and not entity_grounded(
                entity.name, (), text, located.start, located.end, GROUNDING_WINDOW
            )
        ]
        if undeclared:
            check.rejected.append(
                RejectedFact(
                    i,
                    "unknown_entity",
                    f"{', '.join(map(repr, undeclared))} is not among entities and is not "
                    "named in the anchor",
                )
            )
            continue
        subject = resolved[0][0]
        target = resolved[1][0] if len(resolved) > 1 else None
        ungrounded = [
            entity.name
            for entity in (subject, target)
            if entity is not None
            and not entity_grounded(
                entity.name, entity.aliases, text, located.start, located.end, GROUNDING_WINDOW
            )
            and not mentions.is_canonical(entity)
        ]
        if ungrounded:
            check.rejected.append(
                RejectedFact(
                    i,
                    "entity_not_grounded",
                    f"{', '.join(map(repr, ungrounded))} is not mentioned near the anchor "
                    "and is not an entity the document names throughout",
                )
            )
            continue
        check.kept.append(
            KeptFact(
                index=i,
                kind=fact["kind"],
                subject=subject,
                predicate=clean_name(fact["predicate"]),
                object=target,
                value=fact.get("value", "").strip() if fact["kind"] == "attribute" else "",
                match=located,
                model_order=fact["temporal_id"],
            )
        )
    return check


def refused_wording(
    fact: KeptFact, text: str, reference: Reference, *, language: str = "en"
) -> RejectedFact | None:
    """A grounded fact whose own wording may not be stored, or None: planted text in anything
    it would store, or a predicate or value the text near its anchor (in the source's
    ``language``) does not say (replicas' comparator looks at names and anchors only)."""
    stored = [fact.predicate, fact.value]
    for entity in filter(None, (fact.subject, fact.object)):
        stored.extend((entity.name, entity.type, *entity.aliases))
    findings = [finding for part in stored if part for finding in planted(part, reference)]
    if findings:
        message = ", ".join(finding.describe() for finding in findings[:3])
        return RejectedFact(fact.index, PLANTED, message)
    start, end = fact.match.start, fact.match.end
    for field_name, phrase in (("predicate", fact.predicate), ("value", fact.value)):
        extra = ungrounded_words(phrase, text, start, end, GROUNDING_WINDOW, language=language)
        if len(extra) > MAX_UNGROUNDED_WORDS:
            return RejectedFact(
                fact.index,
                f"{field_name}_not_grounded",
                f"the {field_name}'s words {', '.join(map(repr, extra[:5]))} are not in the "
                f"text within {GROUNDING_WINDOW} characters of the anchor",
            )
    return None


def check_job_output(job: Job, output: dict[str, Any], index: SourceIndex) -> GraphCheck:
    """``check_graph`` for an extract_graph job of a stored source."""
    source = job.source
    payload = job.payload
    chunk_starts = list(
        Chunk.objects.filter(source=source).order_by("index").values_list("start", flat=True)
    )
    return check_graph(
        output,
        index=index,
        chunk_start=payload["chunk_start"],
        chunk_end=payload["chunk_end"],
        mentions=DocumentMentions(index.source, source.title, chunk_starts),
    )


def _stored_entity(
    source: Source, spec: EntitySpec, cache: dict[tuple[str, str], Entity]
) -> Entity:
    key = (spec.name, spec.type)
    if key in cache:
        return cache[key]
    entity, created = Entity.objects.get_or_create(
        source=source, name=spec.name, type=spec.type, defaults={"aliases": list(spec.aliases)}
    )
    if not created:
        merged = list(dict.fromkeys([*entity.aliases, *spec.aliases]))
        if merged != entity.aliases:
            entity.aliases = merged
            entity.save(update_fields=["aliases"])
    cache[key] = entity
    return entity


def store_anchors(
    source: Source, spans: list[tuple[int, int]], chunk: Chunk | None
) -> dict[tuple[int, int], Anchor]:
    """The anchors of located spans of a chunk (or of the whole text: figures' captions), by
    span: stored ones as they are, new ones with the quotes the source's retention limits
    leave them, chosen together (``textproc.fragments``).

    The source row is locked first, so that the anchors other chunks' results store at the
    same time count against the same limits.
    """
    Source.objects.select_for_update().only("pk").get(pk=source.pk)
    text = retained_text(source)
    stored = {
        (a.start, a.end): a
        for a in Anchor.objects.filter(source=source).only(
            "id", "source_id", "start", "end", "text_start", "text_end"
        )
    }
    new = [span for span in dict.fromkeys(spans) if span not in stored]
    if not new:
        return stored
    budget = QuoteBudget(
        text,
        (
            quoted
            for a in stored.values()
            for quoted in quoted_ranges(a.start, a.end, a.text_start, a.text_end)
        ),
        max_run_words=settings.RETENTION_MAX_RUN_WORDS,
        max_quoted_share=settings.RETENTION_MAX_QUOTED_SHARE,
    )
    fragments = budget.quote(new, window=(chunk.start, chunk.end) if chunk is not None else None)
    for (start, end), fragment in zip(new, fragments, strict=True):
        stored[start, end] = Anchor.objects.create(
            source=source,
            start=start,
            end=end,
            span_sha256=span_sha256(text[start:end]),
            text_start=fragment.text_start,
            text_end=fragment.text_end,
        )
    return stored


def store_graph(job: Job, check: GraphCheck, *, prompt_version: str) -> list[Fact]:
    """Store the kept facts of a checked result with their entities and anchors."""
    source = job.source
    chunk = Chunk.objects.get(source=source, index=job.payload["chunk_index"])
    entities: dict[tuple[str, str], Entity] = {}
    ordered = sorted(check.kept, key=lambda f: (f.model_order, f.match.start, f.index))
    anchors = store_anchors(source, [(f.match.start, f.match.end) for f in ordered], chunk)
    facts = []
    for rank, kept in enumerate(ordered, start=1):
        facts.append(
            Fact(
                source=source,
                chunk=chunk,
                kind=kept.kind,
                subject=_stored_entity(source, kept.subject, entities),
                predicate=kept.predicate,
                object_entity=(
                    _stored_entity(source, kept.object, entities) if kept.object else None
                ),
                value=kept.value,
                anchor=anchors[kept.match.start, kept.match.end],
                temporal_id=chunk.index * TEMPORAL_STRIDE + rank,
                job=job,
                prompt_version=prompt_version,
            )
        )
    return Fact.objects.bulk_create(facts)
