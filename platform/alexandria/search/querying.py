"""Grounded answers from stored items: matching hypotheses across layers (instructions first
for how-to questions), their arguments pro and contra, related items and instructions, and the
source passages behind every listed item (offsets, hashes and the few words an anchor keeps of
its span).

Chroma finds candidates; the database decides what may be shown (status, merges, age
rating), so a stale index can never surface a rejected, hidden or merged-away item. Accepted
items only, unless pending ones are asked for (each item says its status).

Pro and contra are judged per pair (``alexandria.search.stances``): a stored judge_stance
verdict, the relation of the probe that found the neighbour (a contra probe's hit nearer the
claim than the probe restates the claim) and the negation / opposite guards.
A neighbour without such evidence is listed as related; a read never queues a judgement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from alexandria.embeddings import similarity_threshold
from alexandria.knowledge.models import Anchor, KnowledgeItem
from alexandria.search.selectors import (
    VISIBLE_STATUSES,
    age_ratings,
    grounding_anchors,
    pair_key,
    stance_verdicts,
    visible_items,
)
from alexandria.search.stances import CONTRA_RELATIONS, cheap_stance, combine
from alexandria.search.summaries import Summary, summarise_answer
from alexandria.search.vector_index import Hit, Scope, VectorIndex
from alexandria.textproc.fragments import fragment_text, text_fragment_url

MIN_STATUSES = {
    "pending": list(VISIBLE_STATUSES),
    "accepted": [KnowledgeItem.Status.ACCEPTED],
}
AGE_RATINGS = (0, 6, 12, 16, 18)
MAX_LIMIT = 20
CANDIDATE_FACTOR = 4
# Filters the database applies after the index (keyword, language, source) look further, up
# to this many candidates per layer.
MAX_CANDIDATES = 4096
RELATED_K = 10
RELATED_PER_ANSWER = 3
DEFAULT_MIN_STATUS = "accepted"
# "How do I…", "what are the steps…", "wie kann ich…", "Anleitung": instructions answer these.
HOW_TO = re.compile(
    r"\bhow\s+(?:do|can|could|should|would)\s+(?:i|we|you|one)\b|\bhow\s+to\b"
    r"|\bwhat\s+are\s+the\s+steps\b|\bsteps\s+to\b"
    r"|\bwie\s+(?:kann|könnte|soll|sollte|muss|mache|gehe)\s+(?:ich|man|wir)\b|\bwie\s+man\b"
    r"|\banleitung",
    re.IGNORECASE,
)
# The relation of the probe that found a neighbour: the derivation's "supports" text is a pro
# probe, its "contradicts" and "antithesis" texts contra ones.
PROBE_RELATIONS = (("pro", "supports"), ("con", "contradicts"), ("antithesis", "antithesis"))


def is_how_to(query: str) -> bool:
    return bool(HOW_TO.search(query))


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


@dataclass(frozen=True)
class ItemRef:
    id: int
    kind: str
    layer: int
    text: str
    status: str
    sources: tuple[SourceRef, ...] = ()


@dataclass
class Answer:
    item: ItemRef
    score: float
    pro: list[ItemRef] = field(default_factory=list)
    contra: list[ItemRef] = field(default_factory=list)
    related: list[ItemRef] = field(default_factory=list)
    instructions: list[ItemRef] = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)

    def listed(self) -> list[ItemRef]:
        return [self.item, *self.pro, *self.contra, *self.related, *self.instructions]

    def item_ids(self) -> set[int]:
        return {ref.id for ref in self.listed()}


@dataclass
class AskResult:
    query: str
    results: list[Answer]
    summary: Summary | None = None
    how_to: bool = False
    has_more: bool = False
    # Figures matching the query (``figures.selectors.FigureHit``), found by the caller.
    figures: list = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    statuses: list[str]
    max_age_rating: int | None
    # Items grounded in at least one of these sources only (the public search's genre,
    # keyword, language and source filters); None: any source.
    source_ids: frozenset[int] | None = None
    # The genre among those filters: the index searches that genre's facet (a selective
    # filter, so a small collection) instead of every item.
    genre: str | None = None

    def scope(self, kind: str | None = None) -> Scope:
        """What the index may return: the statuses and age limit as partitions, the genre
        as a facet (the database re-checks every candidate anyway)."""
        return Scope(
            statuses=tuple(s for s in VISIBLE_STATUSES if s in self.statuses),
            max_age_rating=self.max_age_rating,
            genre=self.genre or None,
            kind=kind,
        )


def _ref(item: KnowledgeItem, anchors: list[Anchor]) -> ItemRef:
    sources = tuple(SourceRef.of(anchor) for anchor in anchors)
    return ItemRef(item.pk, item.kind, item.layer, item.text, item.status, sources)


class _Visible:
    """The database's verdict on candidate ids: shown only if visible and within filters."""

    def __init__(self, ids: set[int], filters: Filters):
        items = (
            visible_items()
            .filter(pk__in=ids, status__in=filters.statuses)
            .only("id", "kind", "layer", "text", "status", "details")
        )
        self.anchors = grounding_anchors([item.pk for item in items])
        ratings = age_ratings(self.anchors)
        self.items = {
            item.pk: item
            for item in items
            if (filters.max_age_rating is None or ratings[item.pk] <= filters.max_age_rating)
            and (
                filters.source_ids is None
                or any(a.source_id in filters.source_ids for a in self.anchors[item.pk])
            )
        }

    def get(self, item_id: int) -> KnowledgeItem | None:
        return self.items.get(item_id)

    def ref(self, item_id: int) -> ItemRef:
        return _ref(self.items[item_id], self.anchors.get(item_id, []))


def _search(
    index: VectorIndex, layers: list[int], vectors: np.ndarray, k: int, scope: Scope
) -> list[list[Hit]]:
    """Nearest items over several layers (``k`` per layer), per query vector, most similar
    first."""
    merged: list[list[Hit]] = [[] for _ in range(len(vectors))]
    for layer in layers:
        for position, hits in enumerate(index.query(layer, vectors, k, scope)):
            merged[position].extend(hits)
    return [sorted(hits, key=lambda h: -h.similarity) for hits in merged]


def _candidates(
    index: VectorIndex,
    layers: list[int],
    query_vector: np.ndarray,
    k: int,
    filters: Filters,
    kind: str | None,
    enough: int,
) -> tuple[list[Hit], _Visible, list[Hit]]:
    """The index's nearest hits in scope and the database's verdict on them: the hits it
    shows, most similar first. A source filter is applied by the database, so the search
    looks further (4 times as far each round) until ``enough`` pass or the index has no
    more."""
    while True:
        hits = _search(index, layers, query_vector, k, filters.scope(kind))[0]
        visible = _Visible({hit.id for hit in hits}, filters)
        shown = [hit for hit in hits if visible.get(hit.id) is not None]
        if (
            filters.source_ids is None
            or len(shown) >= enough
            or len(hits) < k
            or k >= MAX_CANDIDATES
        ):
            return hits, visible, shown
        k = min(k * 4, MAX_CANDIDATES)


def ask(
    query: str,
    *,
    layer: int | None = None,
    min_status: str = DEFAULT_MIN_STATUS,
    max_age_rating: int | None = None,
    limit: int = 5,
    summarise: bool = True,
    index: VectorIndex | None = None,
    kind: str | None = None,
    source_ids: frozenset[int] | None = None,
    genre: str | None = None,
    offset: int = 0,
) -> AskResult:
    """Answers to ``query``: hypotheses, or for a how-to question instructions first and
    hypotheses after, each with its arguments, related items and citations. ``kind`` asks for
    answers of that kind only; ``offset`` skips that many answers (pages of ``limit``), and
    ``has_more`` says whether another page has any."""
    index = index or VectorIndex()
    filters = Filters(MIN_STATUSES[min_status], max_age_rating, source_ids, genre)
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    how_to = is_how_to(query)
    indexed = index.layers()
    layers = [layer] if layer is not None and layer in indexed else ([] if layer else indexed)
    # No source passes the source filters (say, none in the asked language): nothing to search.
    if not layers or source_ids == frozenset():
        return AskResult(query=query, results=[], how_to=how_to)
    query_vector = index.embedder.embed_texts([query])
    if kind is not None:
        kinds = [kind]
    else:
        kinds = [KnowledgeItem.Kind.HYPOTHESIS]
        if how_to:
            kinds.insert(0, KnowledgeItem.Kind.INSTRUCTION)
    wanted_kind = kinds[0] if len(kinds) == 1 else None
    # One more than the page, to tell whether another page follows.
    wanted_answers = offset + limit + 1
    hits, visible, _ = _candidates(
        index,
        layers,
        query_vector,
        wanted_answers * CANDIDATE_FACTOR,
        filters,
        wanted_kind,
        wanted_answers * len(kinds),
    )
    answers: list[Answer] = []
    seen: set[int] = set()
    for wanted in kinds:
        for hit in hits:
            item = visible.get(hit.id)
            if item is None or item.kind != wanted or item.pk in seen:
                continue
            seen.add(item.pk)
            answers.append(Answer(item=visible.ref(item.pk), score=round(hit.similarity, 4)))
    has_more = len(answers) > offset + limit
    answers = answers[offset : offset + limit]
    if answers:
        _add_related(index, indexed, answers, visible, filters)
    result = AskResult(query=query, results=answers, how_to=how_to, has_more=has_more)
    if summarise and answers:
        result.summary = summarise_answer(result)
    return result


@dataclass(frozen=True)
class Match:
    item: ItemRef
    score: float


@dataclass
class RetrieveResult:
    query: str
    results: list[Match]
    has_more: bool = False


def retrieve(
    query: str,
    *,
    layer: int | None = None,
    kind: str | None = None,
    min_status: str = DEFAULT_MIN_STATUS,
    max_age_rating: int | None = None,
    source_ids: frozenset[int] | None = None,
    genre: str | None = None,
    limit: int = 10,
    offset: int = 0,
    index: VectorIndex | None = None,
) -> RetrieveResult:
    """The shown items nearest to ``query``, each with its citations: the retrieval half of
    ``ask``, without arguments, related items or a summary."""
    index = index or VectorIndex()
    filters = Filters(MIN_STATUSES[min_status], max_age_rating, source_ids, genre)
    limit, offset = max(1, min(limit, MAX_LIMIT)), max(0, offset)
    indexed = index.layers()
    layers = [layer] if layer is not None and layer in indexed else ([] if layer else indexed)
    if not layers or source_ids == frozenset():
        return RetrieveResult(query=query, results=[])
    wanted = offset + limit + 1
    _, visible, shown = _candidates(
        index,
        layers,
        index.embedder.embed_texts([query]),
        wanted * CANDIDATE_FACTOR,
        filters,
        kind,
        wanted,
    )
    matches = [Match(visible.ref(hit.id), round(hit.similarity, 4)) for hit in shown]
    return RetrieveResult(
        query=query,
        results=matches[offset : offset + limit],
        has_more=len(matches) > offset + limit,
    )


def _relation(item: KnowledgeItem) -> str:
    details = item.details if isinstance(item.details, dict) else {}
    return str(details.get("relation", ""))


@dataclass
class _Candidates:
    """One answer's neighbours: best similarity and the probe relations that found each."""

    scores: dict[int, float] = field(default_factory=dict)
    hints: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    instructions: dict[int, float] = field(default_factory=dict)

    def put(self, item_id: int, score: float, hint: str = "") -> None:
        self.scores[item_id] = max(score, self.scores.get(item_id, score))
        if hint:
            self.hints[item_id].add(hint)

    def hint(self, item_id: int) -> str | None:
        """A contra relation wins: an item found as the antithesis is evidence of contra."""
        hints = self.hints.get(item_id, set())
        contra = sorted(hints & CONTRA_RELATIONS)
        return contra[0] if contra else (sorted(hints)[0] if hints else None)


def _add_related(
    index: VectorIndex,
    layers: list[int],
    answers: list[Answer],
    visible: _Visible,
    filters: Filters,
) -> None:
    """Pro, contra, related items and instructions for each hypothesis answer."""
    threshold = similarity_threshold("ASK_NEIGHBOUR_THRESHOLD")
    instruction_threshold = similarity_threshold("ASK_INSTRUCTION_THRESHOLD")
    claims = [
        (answer, visible.get(answer.item.id))
        for answer in answers
        if answer.item.kind == KnowledgeItem.Kind.HYPOTHESIS
    ]
    for answer in answers:
        answer.sources = list(answer.item.sources)
    if not claims:
        return
    claim_items = [item for _, item in claims]
    stored: dict[int, np.ndarray] = {}
    for layer in {item.layer for item in claim_items}:
        stored.update(
            index.vectors(layer, [i.pk for i in claim_items if i.layer == layer], filters.scope())
        )
    # Probes: the texts a claim's derivation says would support / contradict it.
    probe_texts, probe_owner, probe_relation = [], [], []
    for position, item in enumerate(claim_items):
        details = item.details if isinstance(item.details, dict) else {}
        for relation, key in PROBE_RELATIONS:
            text = str(details.get(key) or "").strip()
            if text:
                probe_texts.append(text)
                probe_owner.append(position)
                probe_relation.append(relation)
    vectors = [stored.get(item.pk) for item in claim_items]
    missing = [p for p, v in enumerate(vectors) if v is None]
    fresh = index.embedder.embed_texts([claim_items[p].text for p in missing] + probe_texts)
    for offset, position in enumerate(missing):
        vectors[position] = fresh[offset]
    probe_vectors = fresh[len(missing) :]
    neighbour_hits = _search(index, layers, np.vstack(vectors), RELATED_K, filters.scope())
    probe_hits = (
        _search(index, layers, probe_vectors, RELATED_K, filters.scope("hypothesis"))
        if len(probe_vectors)
        else []
    )
    abstractions: dict[int, list[int]] = defaultdict(list)
    for child, parent in KnowledgeItem.derived_from.through.objects.filter(
        to_knowledgeitem_id__in=[item.pk for item in claim_items]
    ).values_list("from_knowledgeitem_id", "to_knowledgeitem_id"):
        abstractions[parent].append(child)
    wanted = {h.id for hits in neighbour_hits + probe_hits for h in hits}
    wanted |= {child for children in abstractions.values() for child in children}
    related = _Visible(wanted - set(visible.items), filters)
    related.items.update(visible.items)
    related.anchors.update(visible.anchors)

    found = [_Candidates() for _ in claims]
    to_claim = [{hit.id: hit.similarity for hit in hits} for hits in neighbour_hits]
    for position, (item, hits) in enumerate(zip(claim_items, neighbour_hits, strict=True)):
        for child_id in abstractions.get(item.pk, []):
            child = related.get(child_id)
            if child is None:
                continue
            if child.kind == KnowledgeItem.Kind.INSTRUCTION:
                found[position].instructions[child.pk] = 1.0
            else:
                found[position].put(child.pk, 1.0, _relation(child))
        for hit in hits:
            neighbour = related.get(hit.id)
            if neighbour is None or neighbour.pk == item.pk:
                continue
            if neighbour.kind == KnowledgeItem.Kind.INSTRUCTION:
                if hit.similarity >= instruction_threshold:
                    found[position].instructions[neighbour.pk] = hit.similarity
            elif hit.similarity >= threshold:
                found[position].put(neighbour.pk, hit.similarity)
    for owner, relation, hits in zip(probe_owner, probe_relation, probe_hits, strict=True):
        for hit in hits:
            neighbour = related.get(hit.id)
            if (
                neighbour is not None
                and neighbour.pk != claim_items[owner].pk
                and hit.similarity >= threshold
            ):
                # Nearer the claim than its contra probe, the hit restates the claim (a space
                # that barely tells negations apart finds paraphrases with the probe): no hint.
                restates = to_claim[owner].get(hit.id, -1.0) >= hit.similarity
                hint = "" if relation in CONTRA_RELATIONS and restates else relation
                found[owner].put(neighbour.pk, hit.similarity, hint)
    verdicts = stance_verdicts(
        (item.pk, other)
        for item, near in zip(claim_items, found, strict=True)
        for other in near.scores
    )
    for (answer, item), near in zip(claims, found, strict=True):
        buckets: dict[str, dict[int, float]] = {"pro": {}, "contra": {}, "related": {}}
        for other, score in near.scores.items():
            cheap = cheap_stance(item.text, related.get(other).text, near.hint(other))
            call = combine(verdicts.get(pair_key(item.pk, other)), cheap)
            buckets[call.label][other] = score
        buckets["instructions"] = near.instructions
        for name, scored in buckets.items():
            best = sorted(scored, key=lambda i: -scored[i])[:RELATED_PER_ANSWER]
            setattr(answer, name, [related.ref(i) for i in best])


def parse_age_rating(value: int | None) -> int | None:
    if value is not None and value not in AGE_RATINGS:
        raise ValueError(f"max_age_rating must be one of {', '.join(map(str, AGE_RATINGS))}")
    return value
