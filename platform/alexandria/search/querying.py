"""Grounded answers from stored items: matching hypotheses across layers, their arguments
pro and contra, related instructions and the source passages behind each (offsets, hashes and
the few words an anchor keeps of its span).

Chroma finds candidates; the database decides what may be shown (status, merges, age
rating), so a stale index can never surface a rejected, hidden or merged-away item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.search.selectors import VISIBLE_STATUSES, age_ratings, grounding_anchors
from alexandria.search.summaries import Summary, summarise_answer
from alexandria.search.vector_index import Hit, VectorIndex, where_all
from alexandria.textproc.fragments import fragment_text, text_fragment_url

MIN_STATUSES = {
    "pending": list(VISIBLE_STATUSES),
    "accepted": [KnowledgeItem.Status.ACCEPTED],
}
AGE_RATINGS = (0, 6, 12, 16, 18)
MAX_LIMIT = 20
CANDIDATE_FACTOR = 4
RELATED_K = 10
RELATED_PER_ANSWER = 3
PRO_RELATIONS = {"pro", "cause"}
CONTRA_RELATIONS = {"antithesis", "con"}


@dataclass(frozen=True)
class ItemRef:
    id: int
    kind: str
    layer: int
    text: str
    status: str


@dataclass(frozen=True)
class SourceRef:
    """A cited span: offsets and hashes to verify it, the words of its ends to find it."""

    source_id: int
    title: str
    url: str
    source_sha256: str
    start: int
    end: int
    span_sha256: str
    text_start: str
    text_end: str

    @classmethod
    def of(cls, anchor: Anchor) -> SourceRef:
        source = anchor.source
        return cls(
            anchor.source_id,
            source.title,
            source.url,
            source.sha256,
            anchor.start,
            anchor.end,
            anchor.span_sha256,
            anchor.text_start,
            anchor.text_end,
        )

    @property
    def fragment(self) -> str:
        return fragment_text(self.text_start, self.text_end)

    @property
    def link(self) -> str:
        return text_fragment_url(self.url, self.text_start, self.text_end)


@dataclass
class Answer:
    item: ItemRef
    score: float
    pro: list[ItemRef] = field(default_factory=list)
    contra: list[ItemRef] = field(default_factory=list)
    instructions: list[ItemRef] = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)

    def item_ids(self) -> set[int]:
        related = self.pro + self.contra + self.instructions
        return {self.item.id, *(ref.id for ref in related)}


@dataclass
class AskResult:
    query: str
    results: list[Answer]
    summary: Summary | None = None


@dataclass(frozen=True)
class Filters:
    statuses: list[str]
    max_age_rating: int | None

    def where(self) -> dict | None:
        """Chroma filters for the restrictive cases only: a metadata filter costs Chroma
        far more than the plain nearest-neighbour search, and the database re-checks every
        candidate anyway (the index holds only visible items, any age rating up to 18)."""
        restrictive = []
        if set(self.statuses) != set(VISIBLE_STATUSES):
            restrictive.append({"status": {"$in": self.statuses}})
        if self.max_age_rating is not None and self.max_age_rating < max(AGE_RATINGS):
            restrictive.append({"age_rating": {"$lte": self.max_age_rating}})
        return where_all(*restrictive)


def _ref(item: KnowledgeItem) -> ItemRef:
    return ItemRef(item.pk, item.kind, item.layer, item.text, item.status)


class _Visible:
    """The database's verdict on candidate ids: shown only if visible and within filters."""

    def __init__(self, ids: set[int], filters: Filters):
        items = KnowledgeItem.objects.filter(
            pk__in=ids, status__in=filters.statuses, merged_into__isnull=True
        ).only("id", "kind", "layer", "text", "status", "details")
        self.anchors = grounding_anchors([item.pk for item in items])
        ratings = age_ratings(self.anchors)
        self.items = {
            item.pk: item
            for item in items
            if filters.max_age_rating is None or ratings[item.pk] <= filters.max_age_rating
        }

    def get(self, item_id: int) -> KnowledgeItem | None:
        return self.items.get(item_id)


def _search(
    index: VectorIndex,
    layers: list[int],
    vectors: np.ndarray,
    k: int,
    where,
    kind: str | None = None,
) -> list[list[Hit]]:
    """Nearest items over several layers, per query vector, most similar first; ``kind``
    is filtered here from the hits' metadata (cheaper than a Chroma filter)."""
    merged: list[list[Hit]] = [[] for _ in range(len(vectors))]
    for layer in layers:
        for position, hits in enumerate(index.query(layer, vectors, k, where)):
            merged[position].extend(
                h for h in hits if kind is None or h.metadata.get("kind") == kind
            )
    return [sorted(hits, key=lambda h: -h.similarity) for hits in merged]


def ask(
    query: str,
    *,
    layer: int | None = None,
    min_status: str = "pending",
    max_age_rating: int | None = None,
    limit: int = 5,
    summarise: bool = True,
    index: VectorIndex | None = None,
) -> AskResult:
    index = index or VectorIndex()
    filters = Filters(MIN_STATUSES[min_status], max_age_rating)
    limit = max(1, min(limit, MAX_LIMIT))
    indexed = index.layers()
    layers = [layer] if layer is not None and layer in indexed else ([] if layer else indexed)
    if not layers:
        return AskResult(query=query, results=[])
    query_vector = index.embedder.embed_texts([query])
    hits = _search(
        index, layers, query_vector, limit * CANDIDATE_FACTOR, filters.where(), "hypothesis"
    )[0]
    visible = _Visible({hit.id for hit in hits}, filters)
    answers, seen = [], set()
    for hit in hits:
        item = visible.get(hit.id)
        if item is None or item.kind != KnowledgeItem.Kind.HYPOTHESIS or item.pk in seen:
            continue
        seen.add(item.pk)
        answers.append(Answer(item=_ref(item), score=round(hit.similarity, 4)))
        if len(answers) == limit:
            break
    if answers:
        _add_related(index, indexed, answers, visible, filters)
    result = AskResult(query=query, results=answers)
    if summarise and answers:
        result.summary = summarise_answer(result)
    return result


def _stance(item: KnowledgeItem) -> str:
    details = item.details if isinstance(item.details, dict) else {}
    return str(details.get("stance", ""))


def _relation(item: KnowledgeItem) -> str:
    details = item.details if isinstance(item.details, dict) else {}
    return str(details.get("relation", ""))


def _add_related(
    index: VectorIndex,
    layers: list[int],
    answers: list[Answer],
    visible: _Visible,
    filters: Filters,
) -> None:
    """Pro, contra and instructions for each answer, then every answer's sources."""
    threshold = settings.ASK_NEIGHBOUR_THRESHOLD
    instruction_threshold = settings.ASK_INSTRUCTION_THRESHOLD
    answer_items = [visible.get(answer.item.id) for answer in answers]
    stored: dict[int, np.ndarray] = {}
    for layer in {item.layer for item in answer_items}:
        stored.update(index.vectors(layer, [i.pk for i in answer_items if i.layer == layer]))
    # Probes: the answer itself, and the texts its derivation says would support / contradict it.
    probe_texts, probe_owner, probe_role = [], [], []
    for position, item in enumerate(answer_items):
        details = item.details if isinstance(item.details, dict) else {}
        for role, key in (("pro", "supports"), ("contra", "contradicts"), ("contra", "antithesis")):
            text = str(details.get(key) or "").strip()
            if text:
                probe_texts.append(text)
                probe_owner.append(position)
                probe_role.append(role)
    vectors = [stored.get(item.pk) for item in answer_items]
    missing = [p for p, v in enumerate(vectors) if v is None]
    fresh = index.embedder.embed_texts([answer_items[p].text for p in missing] + probe_texts)
    for offset, position in enumerate(missing):
        vectors[position] = fresh[offset]
    probe_vectors = fresh[len(missing) :]
    neighbour_hits = _search(index, layers, np.vstack(vectors), RELATED_K, filters.where())
    probe_hits = (
        _search(index, layers, probe_vectors, RELATED_K, filters.where(), "hypothesis")
        if len(probe_vectors)
        else []
    )
    abstractions: dict[int, list[int]] = defaultdict(list)
    for child, parent in KnowledgeItem.derived_from.through.objects.filter(
        to_knowledgeitem_id__in=[item.pk for item in answer_items]
    ).values_list("from_knowledgeitem_id", "to_knowledgeitem_id"):
        abstractions[parent].append(child)
    wanted = {h.id for hits in neighbour_hits + probe_hits for h in hits}
    wanted |= {child for children in abstractions.values() for child in children}
    related = _Visible(wanted - set(visible.items), filters)
    related.items.update(visible.items)
    related.anchors.update(visible.anchors)

    buckets: list[dict[str, dict[int, float]]] = [
        {"pro": {}, "contra": {}, "instructions": {}} for _ in answers
    ]

    def put(position: int, bucket: str, item_id: int, score: float) -> None:
        if item_id == answers[position].item.id:
            return
        current = buckets[position][bucket]
        current[item_id] = max(score, current.get(item_id, score))

    for position, (item, hits) in enumerate(zip(answer_items, neighbour_hits, strict=True)):
        for child_id in abstractions.get(item.pk, []):
            child = related.get(child_id)
            if child is None:
                continue
            if child.kind == KnowledgeItem.Kind.INSTRUCTION:
                put(position, "instructions", child.pk, 1.0)
            elif _relation(child) in CONTRA_RELATIONS or _stance(child) == "refutes":
                put(position, "contra", child.pk, 1.0)
            elif _relation(child) in PRO_RELATIONS or _stance(child) == "supports":
                put(position, "pro", child.pk, 1.0)
        for hit in hits:
            neighbour = related.get(hit.id)
            if neighbour is None:
                continue
            if neighbour.kind == KnowledgeItem.Kind.INSTRUCTION:
                if hit.similarity >= instruction_threshold:
                    put(position, "instructions", neighbour.pk, hit.similarity)
            elif hit.similarity < threshold:
                continue
            elif _stance(neighbour) == "refutes":
                put(position, "contra", neighbour.pk, hit.similarity)
            elif _stance(neighbour) == "supports":
                put(position, "pro", neighbour.pk, hit.similarity)
    for owner, role, hits in zip(probe_owner, probe_role, probe_hits, strict=True):
        for hit in hits:
            neighbour = related.get(hit.id)
            if neighbour is not None and hit.similarity >= threshold:
                put(owner, role, neighbour.pk, hit.similarity)
    for answer, bucket in zip(answers, buckets, strict=True):
        contra = bucket["contra"]
        # An item can't argue both ways: contra (the stronger claim) wins.
        pro = {i: s for i, s in bucket["pro"].items() if i not in contra}
        for name, scored in (
            ("pro", pro),
            ("contra", contra),
            ("instructions", bucket["instructions"]),
        ):
            best = sorted(scored, key=lambda i: -scored[i])[:RELATED_PER_ANSWER]
            setattr(answer, name, [_ref(related.get(i)) for i in best])
        answer.sources = [SourceRef.of(a) for a in related.anchors.get(answer.item.id, [])]


def parse_age_rating(value: int | None) -> int | None:
    if value is not None and value not in AGE_RATINGS:
        raise ValueError(f"max_age_rating must be one of {', '.join(map(str, AGE_RATINGS))}")
    return value
