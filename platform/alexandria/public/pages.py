"""The public web pages: server-rendered, no JavaScript, cacheable (``Cache-Control: public``,
an ETag, ``Vary: Cookie`` for the age switch). The same reads as the public API
(``public.shaping``), the same rate limit per client address."""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_safe

from alexandria.public import selectors, shaping
from alexandria.public.serializers import SearchQuerySerializer
from alexandria.public.throttles import PublicRateThrottle
from alexandria.search.querying import AGE_RATINGS

logger = logging.getLogger(__name__)
AGE_COOKIE = "max_age_rating"
AGE_COOKIE_SECONDS = 365 * 24 * 3600
SEARCH_MAX_AGE = 60
PERMALINK_MAX_AGE = 300
FILTERS = ("layer", "kind", "genre", "keyword", "language", "source", "min_status", "limit")


def max_age_rating(request: HttpRequest) -> int:
    """The reader's age switch: the cookie's value, else 12."""
    try:
        value = int(request.COOKIES.get(AGE_COOKIE, ""))
    except ValueError:
        return selectors.DEFAULT_MAX_AGE_RATING
    return value if value in AGE_RATINGS else selectors.DEFAULT_MAX_AGE_RATING


def _page(request, template: str, context: dict, *, status: int = 200, max_age: int = 0):
    context = {
        "max_age_rating": max_age_rating(request),
        "age_ratings": AGE_RATINGS,
        "here": request.get_full_path(),
        **context,
    }
    response = HttpResponse(render_to_string(template, context, request), status=status)
    patch_vary_headers(response, ["Cookie"])
    if status == 200 and max_age:
        patch_cache_control(response, public=True, max_age=max_age)
        etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        response["ETag"] = etag
        if etag in request.headers.get("If-None-Match", ""):
            not_modified = HttpResponseNotModified()
            for header in ("ETag", "Cache-Control", "Vary"):
                not_modified[header] = response[header]
            return not_modified
    else:
        patch_cache_control(response, no_store=True)
    return response


def _throttled(request) -> HttpResponse | None:
    throttle = PublicRateThrottle()
    if throttle.allow_request(request, None):
        return None
    wait = int(throttle.wait() or 1)
    response = _page(request, "public/error.html", {"status": 429, "wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _query_string(params: dict, **changes) -> str:
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in ("", None)})


@require_safe
def search_page(request):
    """The search box; with a question, the answers grouped as /ask groups them."""
    raw = {name: request.GET.get(name, "") for name in ("q", *FILTERS)}
    context = {"params": raw, "results": None, "errors": {}}
    if not raw["q"].strip():
        return _page(request, "public/search.html", context, max_age=PERMALINK_MAX_AGE)
    refused = _throttled(request)
    if refused:
        return refused
    given = {k: v for k, v in request.GET.items() if k in ("q", "page", *FILTERS) and v != ""}
    params = SearchQuerySerializer(data={**given, "max_age_rating": max_age_rating(request)})
    if not params.is_valid():
        context["errors"] = {name: " ".join(map(str, e)) for name, e in params.errors.items()}
        return _page(request, "public/search.html", context, status=400)
    data = params.validated_data
    try:
        result = shaping.search(data)
    except Exception:
        logger.exception("public search failed")
        return _page(request, "public/error.html", {"status": 503}, status=503)
    base = {k: v for k, v in raw.items() if v != ""}
    context.update(
        results=result.results,
        figures=result.figures,
        how_to=result.how_to,
        page=data["page"],
        previous_page=(
            "?" + _query_string(base, page=data["page"] - 1) if data["page"] > 1 else ""
        ),
        next_page="?" + _query_string(base, page=data["page"] + 1) if result.has_more else "",
    )
    return _page(request, "public/search.html", context, max_age=SEARCH_MAX_AGE)


@require_safe
def item_page(request, pk: int):
    refused = _throttled(request)
    if refused:
        return refused
    found = selectors.public_item(pk, max_age_rating=max_age_rating(request))
    if found.merged_into is not None:
        return redirect("public:item", pk=found.merged_into, permanent=True)
    if found.detail is None:
        context = {"status": 404, "what": "item", "age_rating": found.age_rating}
        return _page(request, "public/error.html", context, status=404)
    context = {"item": shaping.item_data(found.detail)}
    return _page(request, "public/item.html", context, max_age=PERMALINK_MAX_AGE)


@require_safe
def source_page(request, pk: int):
    refused = _throttled(request)
    if refused:
        return refused
    found = selectors.public_source(pk, max_age_rating=max_age_rating(request))
    if found.detail is None:
        context = {"status": 404, "what": "source", "age_rating": found.age_rating}
        return _page(request, "public/error.html", context, status=404)
    context = {"source": shaping.source_data(found.detail)}
    return _page(request, "public/source.html", context, max_age=PERMALINK_MAX_AGE)


@require_safe
def browse_page(request):
    limit = max_age_rating(request)
    context = {
        "genres": selectors.genres(max_age_rating=limit),
        "keywords": selectors.keywords(max_age_rating=limit),
    }
    return _page(request, "public/browse.html", context, max_age=PERMALINK_MAX_AGE)


@require_safe
def browse_genre_page(request, genre: str):
    sources = selectors.sources_by(genre=genre, max_age_rating=max_age_rating(request))
    context = {"heading": f"Genre: {genre}", "sources": sources, "filter": {"genre": genre}}
    return _page(request, "public/sources.html", context, max_age=PERMALINK_MAX_AGE)


@require_safe
def browse_keyword_page(request, keyword: str):
    sources = selectors.sources_by(keyword=keyword, max_age_rating=max_age_rating(request))
    context = {
        "heading": f"Keyword: {keyword}",
        "sources": sources,
        "filter": {"keyword": keyword},
    }
    return _page(request, "public/sources.html", context, max_age=PERMALINK_MAX_AGE)


@require_safe
def age_switch(request):
    """Remember the reader's age switch in a cookie, then go back where they were."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("public:search")
    response = redirect(target)
    try:
        value = int(request.GET.get(AGE_COOKIE, ""))
    except ValueError:
        value = None
    if value in AGE_RATINGS:
        response.set_cookie(
            AGE_COOKIE,
            str(value),
            max_age=AGE_COOKIE_SECONDS,
            samesite="Lax",
            httponly=True,
            secure=settings.PRODUCTION,
        )
    patch_cache_control(response, no_store=True)
    return response
