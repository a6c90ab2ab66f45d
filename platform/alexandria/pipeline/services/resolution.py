"""Entity resolution within a source: which entities of its graph name the same thing.

Runs once all extract_graph jobs of a source are finished. Pairs whose normalised names or
aliases coincide are merged at once. Pairs that only look alike (one name contained in the
other, a high fuzzy ratio) or only mean alike ("USA" and "United States": their "name (type
family)" embeddings are at least ``ENTITY_EMBEDDING_THRESHOLD`` cosine-similar) go to
``resolve_entities`` jobs for an LLM to verify; similarity alone never merges. Entities of
incompatible types (a person and the law named after them) are never paired nor merged.
"""

import itertools
import logging
import re
import unicodedata
from collections import defaultdict
from typing import Any

import numpy as np
from django.db.models import Count, Q
from rapidfuzz import fuzz

from alexandria.embeddings import EmbedderUnavailableError, get_embedder, similarity_threshold
from alexandria.jobs.models import Job
from alexandria.jobs.services.lifecycle import create_job
from alexandria.jobs.services.payloads import span
from alexandria.knowledge.models import Entity, Fact
from alexandria.sources.models import Source
from jobkinds import resolve_entities

logger = logging.getLogger(__name__)

# A fuzzy token-sort ratio at or above this makes two names a candidate pair.
CANDIDATE_RATIO = 85
QUOTES_PER_ENTITY = 3
# Entities in a token's block beyond this are too common a word to pair on.
MAX_BLOCK_SIZE = 200
# Rows of the similarity matrix computed at once: bounds memory on entity-heavy sources.
SIMILARITY_ROWS_PER_BLOCK = 1024

_TYPE_FAMILIES = {
    "person": {"person", "people", "human", "individual", "scientist", "author", "character"},
    "organization": {
        "organization", "organisation", "company", "institution", "university", "agency",
        "group", "team", "party",
    },
    "place": {"place", "location", "city", "country", "region", "area", "site"},
    "work": {"work", "book", "paper", "article", "publication", "journal", "document"},
    "concept": {
        "concept", "method", "theory", "law", "technique", "algorithm", "model", "idea",
        "principle", "effect", "equation", "theorem",
    },
}  # fmt: skip
_FAMILY_OF = {t: family for family, types in _TYPE_FAMILIES.items() for t in types}
_HONORIFICS = frozenset({"the", "a", "an", "dr", "prof", "mr", "mrs", "ms", "sir", "madame"})


def type_family(entity_type: str) -> str:
    """The family a type belongs to; unknown types form their own family."""
    return _FAMILY_OF.get(entity_type.casefold().strip(), entity_type.casefold().strip())


def name_tokens(name: str) -> tuple[str, ...]:
    """Case-, accent- and punctuation-folded words, without leading articles/honorifics."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    words = re.findall(r"\w+", folded)
    while len(words) > 1 and words[0] in _HONORIFICS:
        words = words[1:]
    return tuple(words)


def _keys(entity: Entity) -> set[tuple[str, ...]]:
    return {k for k in (name_tokens(n) for n in (entity.name, *entity.aliases)) if k}


def _contained(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    return 0 < len(short) < len(long) and set(short) <= set(long)


def classify_pair(a: Entity, b: Entity) -> str | None:
    """'same', 'candidate' or None (unrelated or of incompatible types)."""
    if type_family(a.type) != type_family(b.type):
        return None
    keys_a, keys_b = _keys(a), _keys(b)
    if keys_a & keys_b:
        return "same"
    for ka, kb in itertools.product(keys_a, keys_b):
        if _contained(ka, kb) or _contained(kb, ka):
            return "candidate"
        if fuzz.token_sort_ratio(" ".join(ka), " ".join(kb)) >= CANDIDATE_RATIO:
            return "candidate"
    return None


class _Groups:
    """Union-find over entity ids."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _candidate_pairs(entities: list[Entity]) -> list[tuple[Entity, Entity]]:
    """Pairs sharing a name word (blocking keeps this far below all pairs)."""
    blocks: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        for token in {t for key in _keys(entity) for t in key}:
            blocks[token].append(entity)
    seen: set[tuple[int, int]] = set()
    pairs = []
    for block in blocks.values():
        if len(block) > MAX_BLOCK_SIZE:
            continue
        for a, b in itertools.combinations(block, 2):
            key = (min(a.pk, b.pk), max(a.pk, b.pk))
            if key not in seen:
                seen.add(key)
                pairs.append((a, b) if a.pk < b.pk else (b, a))
    return pairs


def entity_text(entity: Entity) -> str:
    """What is embedded for an entity: its name with its type family, e.g. "Curie (person)".

    The family, not the raw type: "USA (country)" and "United States (place)" embed far
    apart (0.69 with MiniLM), "USA (place)" and "United States (place)" close (0.92).
    """
    return f"{entity.name} ({type_family(entity.type)})"


def _embedding_pairs(entities: list[Entity], threshold: float) -> list[tuple[Entity, Entity]]:
    """Pairs of one type family whose name embeddings reach ``threshold`` cosine similarity.

    One embedding call for all entities; per family, row blocks of the upper triangle only.
    Without the search extra's embedder the lexical candidates stand alone.
    """
    if len(entities) < 2:
        return []
    try:
        vectors = get_embedder().embed_texts([entity_text(e) for e in entities])
    except EmbedderUnavailableError as exc:
        logger.warning("entity resolution without embedding candidates: %s", exc)
        return []
    families: dict[str, list[int]] = defaultdict(list)
    for index, entity in enumerate(entities):
        families[type_family(entity.type)].append(index)
    pairs = []
    for members in families.values():
        family_vectors = vectors[members]
        for start in range(0, len(members) - 1, SIMILARITY_ROWS_PER_BLOCK):
            # Rows start..start+block against columns start..end: column c > row r is the
            # upper triangle, each pair once and never an entity with itself.
            block = family_vectors[start : start + SIMILARITY_ROWS_PER_BLOCK]
            similar = np.triu(block @ family_vectors[start:].T >= threshold, k=1)
            for row, column in zip(*np.nonzero(similar), strict=True):
                a, b = entities[members[start + row]], entities[members[start + column]]
                pairs.append((a, b))
    return pairs


def _fact_counts(source: Source) -> dict[int, int]:
    return dict(
        Entity.objects.filter(source=source)
        .annotate(
            n=Count("facts_as_subject", distinct=True) + Count("facts_as_object", distinct=True)
        )
        .values_list("pk", "n")
    )


def _apply_groups(entities: list[Entity], groups: _Groups, counts: dict[int, int]) -> int:
    """Point every non-representative entity at its group's representative; how many changed."""
    members: dict[int, list[Entity]] = defaultdict(list)
    for entity in entities:
        members[groups.find(entity.pk)].append(entity)
    changed = []
    for group in members.values():
        representative = max(group, key=lambda e: (counts.get(e.pk, 0), -e.pk))
        for entity in group:
            target = None if entity.pk == representative.pk else representative.pk
            if entity.canonical_id != target:
                entity.canonical_id = target
                changed.append(entity)
    Entity.objects.bulk_update(changed, ["canonical"])
    return len(changed)


def _current_groups(entities: list[Entity]) -> _Groups:
    groups = _Groups()
    for entity in entities:
        groups.find(entity.pk)
        if entity.canonical_id is not None:
            groups.union(entity.pk, entity.canonical_id)
    return groups


def _quotes(entity: Entity) -> list[dict]:
    """The anchors of the entity's facts, as spans of the source's text: the node reads them
    whole, the stored payload holds only offsets (``jobs.services.payloads``)."""
    spans = (
        Fact.objects.filter(Q(subject=entity) | Q(object_entity=entity))
        .order_by("temporal_id")
        .values_list("anchor__start", "anchor__end")
    )
    return [span(start, end) for start, end in dict.fromkeys(spans)][:QUOTES_PER_ENTITY]


def _side(entity: Entity) -> dict[str, Any]:
    return {
        "entity_id": entity.pk,
        "name": entity.name,
        "type": entity.type,
        "aliases": list(entity.aliases),
        "quotes": _quotes(entity),
    }


def resolve_source_entities(source: Source, *, priority: int = 0) -> list[Job]:
    """Merge lexically identical entities; queue LLM checks for uncertain pairs.

    Uncertain pairs are the lexical candidates plus the embedding-similar ones.
    """
    entities = list(Entity.objects.filter(source=source).order_by("pk"))
    groups = _current_groups(entities)
    similar = {
        (a.pk, b.pk): (a, b)
        for a, b in _embedding_pairs(entities, similarity_threshold("ENTITY_EMBEDDING_THRESHOLD"))
    }
    pairs = {(a.pk, b.pk): (a, b) for a, b in _candidate_pairs(entities)} | similar
    uncertain = []
    for key, (a, b) in pairs.items():
        verdict = classify_pair(a, b)
        if verdict == "same":
            groups.union(a.pk, b.pk)
        elif verdict == "candidate" or key in similar:
            uncertain.append((a, b))
    _apply_groups(entities, groups, _fact_counts(source))
    asked: dict[frozenset[int], tuple[Entity, Entity]] = {}
    for a, b in uncertain:
        key = frozenset((groups.find(a.pk), groups.find(b.pk)))
        if len(key) == 2:  # one question per pair of groups
            asked.setdefault(key, (a, b))
    uncertain = list(asked.values())
    jobs = []
    batch_size = resolve_entities.MAX_PAIRS
    for offset in range(0, len(uncertain), batch_size):
        batch = uncertain[offset : offset + batch_size]
        payload = {
            "source_title": source.title,
            "prompt_version": resolve_entities.PROMPT_VERSION,
            "pairs": [
                {"pair_id": offset + i, "a": _side(a), "b": _side(b)}
                for i, (a, b) in enumerate(batch)
            ],
        }
        jobs.append(
            create_job(resolve_entities.KIND.name, payload, source=source, priority=priority)
        )
    return jobs


def check_decisions(job: Job, output: dict[str, Any]) -> list[str]:
    """Reasons a resolve_entities output is unusable (unknown or missing pair ids)."""
    asked = {pair["pair_id"] for pair in job.payload["pairs"]}
    answered = [d["pair_id"] for d in output["decisions"]]
    reasons = []
    unknown = sorted(set(answered) - asked)
    if unknown:
        reasons.append(f"decisions for pairs that were not asked: {unknown[:10]}")
    if len(set(answered)) != len(answered):
        reasons.append("more than one decision for a pair")
    if set(answered) != asked and not unknown:
        reasons.append(f"no decision for pairs {sorted(asked - set(answered))[:10]}")
    return reasons


def apply_decisions(job: Job, output: dict[str, Any]) -> int:
    """Merge the pairs the model confirmed (never across type families); how many changed."""
    same = {d["pair_id"] for d in output["decisions"] if d["same"]}
    entities = list(Entity.objects.filter(source=job.source).order_by("pk"))
    by_id = {e.pk: e for e in entities}
    groups = _current_groups(entities)
    for pair in job.payload["pairs"]:
        if pair["pair_id"] not in same:
            continue
        a, b = by_id.get(pair["a"]["entity_id"]), by_id.get(pair["b"]["entity_id"])
        if a is not None and b is not None and type_family(a.type) == type_family(b.type):
            groups.union(a.pk, b.pk)
    return _apply_groups(entities, groups, _fact_counts(job.source))
