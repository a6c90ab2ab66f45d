"""One shaping of the public reads for both the API and the pages, so both show the same."""

from __future__ import annotations

from typing import Any

from alexandria.figures.selectors import search_figures
from alexandria.public.selectors import ItemDetail, SourceDetail, matching_source_ids
from alexandria.public.serializers import PUBLIC_DETAILS
from alexandria.search.querying import AskResult, RetrieveResult, SourceRef, ask, retrieve


def _filters(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "layer": params.get("layer"),
        "kind": params.get("kind") or None,
        "min_status": params.get("min_status", "accepted"),
        "max_age_rating": params.get("max_age_rating", 12),
        "source_ids": matching_source_ids(
            genre=params.get("genre", ""),
            keyword=params.get("keyword", ""),
            language=params.get("language", ""),
            source=params.get("source"),
        ),
        "genre": params.get("genre") or None,
    }


def search(params: dict[str, Any]) -> AskResult:
    """Answers as /ask gives them (no server-side summary), one page of ``limit``; the first
    page also has the matching figures."""
    filters = _filters(params)
    if filters["source_ids"] == frozenset():
        return AskResult(query=params["q"], results=[])
    limit, page = params.get("limit", 5), params.get("page", 1)
    result = ask(params["q"], limit=limit, offset=(page - 1) * limit, summarise=False, **filters)
    if page == 1:
        result.figures = search_figures(
            params["q"],
            max_age_rating=filters["max_age_rating"],
            source_ids=filters["source_ids"],
        )
    return result


def retrieval(params: dict[str, Any]) -> RetrieveResult:
    filters = _filters(params)
    if filters["source_ids"] == frozenset():
        return RetrieveResult(query=params["q"], results=[])
    limit = params.get("limit", 5)
    return retrieve(params["q"], limit=limit, offset=(params.get("page", 1) - 1) * limit, **filters)


def _item(item) -> dict[str, Any]:
    return {
        "id": item.pk,
        "kind": item.kind,
        "layer": item.layer,
        "text": item.text,
        "status": item.status,
    }


def _details(item) -> dict[str, Any]:
    details = item.details if isinstance(item.details, dict) else {}
    return {key: details[key] for key in PUBLIC_DETAILS if details.get(key)}


def item_data(detail: ItemDetail) -> dict[str, Any]:
    return {
        **_item(detail.item),
        "details": _details(detail.item),
        "age_rating": detail.age_rating,
        "reviews": detail.reviews,
        "citations": [SourceRef.of(anchor) for anchor in detail.anchors],
        "provenance": [
            {
                "item": _item(entry.item),
                "depth": entry.depth,
                "citations": [SourceRef.of(anchor) for anchor in entry.anchors],
            }
            for entry in detail.provenance
        ],
        "provenance_not_shown": detail.provenance_not_shown,
        "merged_from": [_item(item) for item in detail.merged_from],
        "built_on_this": [_item(item) for item in detail.built_on_this],
    }


def source_data(detail: SourceDetail) -> dict[str, Any]:
    source, profile = detail.source, detail.profile
    return {
        "id": source.pk,
        "title": source.title,
        "url": source.url,
        "sha256": source.sha256,
        "language": source.language,
        "genre": profile.genre if profile else "",
        "keywords": [str(k) for k in (profile.keywords if profile else []) or []],
        "summary": profile.summary if profile else "",
        "age_rating": detail.age_rating,
        "age_reasons": (profile.age_reasons if profile else {}) or {},
        "text_purged_at": source.text_purged_at,
        "anchors": [
            {
                "start": a.start,
                "end": a.end,
                "span_sha256": a.span_sha256,
                "text_start": a.text_start,
                "text_end": a.text_end,
                "fragment": a.fragment,
                "link": a.link,
            }
            for a in detail.anchors
        ],
        "items": [_item(item) for item in detail.items],
    }
