"""A thin async client for Alexandria's REST API, always acting for one Discord member.

Every call names the acting member; the backend authenticates the bot by its service token
(``Authorization: Bot <token>``) and acts as that member (``X-Discord-User``/``X-Discord-Name``).
Error statuses become typed exceptions carrying the backend's ``detail`` message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_TIMEOUT_S = 20.0
NAME_HEADER_MAX_CHARS = 100


@dataclass(frozen=True)
class Actor:
    """The Discord member a call is made for."""

    id: int
    name: str

    @classmethod
    def of(cls, user) -> Actor:
        return cls(id=int(user.id), name=str(getattr(user, "display_name", None) or user.name))


class AlexandriaError(Exception):
    """The backend refused or failed a call; ``detail`` is its message for humans."""

    status: int | None = None

    def __init__(self, detail: str, *, status: int | None = None, errors: Any = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.errors = errors


class InvalidRequest(AlexandriaError):
    status = 400


class ServiceAuthFailed(AlexandriaError):
    """401: the bot's service token is wrong (a deployment problem, not the member's)."""

    status = 401


class Forbidden(AlexandriaError):
    status = 403

    @property
    def banned(self) -> bool:
        return "banned" in self.detail.lower()


class NotFound(AlexandriaError):
    status = 404


class Conflict(AlexandriaError):
    status = 409


class PayloadTooLarge(AlexandriaError):
    status = 413


class Throttled(AlexandriaError):
    status = 429

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class ServerError(AlexandriaError):
    """5xx: Alexandria is having trouble."""


class BackendUnreachable(AlexandriaError):
    """No HTTP answer at all (connection refused, DNS, timeout)."""


_BY_STATUS: dict[int, type[AlexandriaError]] = {
    400: InvalidRequest,
    401: ServiceAuthFailed,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def error_for(response: httpx.Response) -> AlexandriaError:
    """The typed exception for an error response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, str) or not detail:
        detail = response.reason_phrase or f"HTTP {response.status_code}"
    errors = body.get("errors") if isinstance(body, dict) else None
    status = response.status_code
    if status == 429:
        return Throttled(detail, retry_after=_retry_after(response), status=status, errors=errors)
    if status >= 500:
        return ServerError(detail, status=status, errors=errors)
    return _BY_STATUS.get(status, AlexandriaError)(detail, status=status, errors=errors)


class AlexandriaClient:
    def __init__(
        self,
        base_url: str,
        service_token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._token = service_token
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/api/v1/",
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "alexandria-bot"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AlexandriaClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    def _headers(self, actor: Actor) -> dict[str, str | bytes]:
        return {
            "Authorization": f"Bot {self._token}",
            "X-Discord-User": str(actor.id),
            # UTF-8 bytes: display names are often not ASCII.
            "X-Discord-Name": actor.name[:NAME_HEADER_MAX_CHARS].encode("utf-8"),
        }

    async def request(self, method: str, path: str, actor: Actor, **kwargs) -> Any:
        try:
            response = await self._http.request(
                method, path, headers=self._headers(actor), **kwargs
            )
        except httpx.TimeoutException as exc:
            raise BackendUnreachable(f"Alexandria did not answer in time ({exc}).") from exc
        except httpx.TransportError as exc:
            raise BackendUnreachable(f"Alexandria is unreachable ({exc}).") from exc
        if response.status_code >= 400:
            raise error_for(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- members --------------------------------------------------------------------------

    async def me(self, actor: Actor) -> dict:
        return await self.request("GET", "me", actor)

    async def my_reputation(self, actor: Actor) -> dict:
        return await self.request("GET", "me/reputation", actor)

    async def leaderboard(self, actor: Actor, *, limit: int = 10) -> dict:
        return await self.request("GET", "leaderboard", actor, params={"limit": limit})

    # --- sources --------------------------------------------------------------------------

    async def submit_text(self, actor: Actor, text: str, **citation: str) -> dict:
        body = {"text": text, **{key: value for key, value in citation.items() if value}}
        return await self.request("POST", "sources", actor, json=body)

    async def submit_file(
        self, actor: Actor, *, filename: str, content: bytes, content_type: str, **citation: str
    ) -> dict:
        data = {key: value for key, value in citation.items() if value}
        files = {"file": (filename, content, content_type or "application/octet-stream")}
        return await self.request("POST", "sources", actor, data=data, files=files)

    async def source(self, actor: Actor, source_id: int) -> dict:
        return await self.request("GET", f"sources/{int(source_id)}", actor)

    # --- reviews --------------------------------------------------------------------------

    async def next_review(self, actor: Actor) -> dict | None:
        return (await self.request("GET", "reviews/next", actor))["task"]

    async def answer_review(
        self,
        actor: Actor,
        task_id: int,
        verdict: str,
        *,
        comment: str = "",
        proposed_text: str = "",
    ) -> dict:
        body = {"verdict": verdict, "comment": comment, "proposed_text": proposed_text}
        return await self.request("POST", f"reviews/tasks/{int(task_id)}/answer", actor, json=body)

    # --- queries --------------------------------------------------------------------------

    async def ask(
        self,
        actor: Actor,
        query: str,
        *,
        layer: int | None = None,
        min_status: str = "accepted",
        max_age_rating: int | None = None,
        language: str | None = None,
    ) -> dict:
        params: dict[str, Any] = {"q": query, "min_status": min_status}
        if layer is not None:
            params["layer"] = layer
        if max_age_rating is not None:
            params["max_age_rating"] = max_age_rating
        if language:
            params["language"] = language
        return await self.request("GET", "ask", actor, params=params)

    async def create_api_key(self, actor: Actor, *, name: str = "") -> dict:
        return await self.request("POST", "apikeys", actor, json={"name": name})

    # --- volunteer nodes ------------------------------------------------------------------

    async def register_node(self, actor: Actor, *, name: str, capabilities: dict) -> dict:
        body = {"name": name, "capabilities": capabilities}
        return await self.request("POST", "nodes", actor, json=body)

    async def nodes(self, actor: Actor) -> list[dict]:
        body = await self.request("GET", "nodes", actor, params={"limit": 25})
        return body["results"] if isinstance(body, dict) else body

    # --- moderation -----------------------------------------------------------------------

    async def hide_item(self, actor: Actor, item_id: int, *, reason: str) -> dict:
        path = f"mod/items/{int(item_id)}/hide"
        return await self.request("POST", path, actor, json={"reason": reason})

    async def ban_member(self, actor: Actor, discord_id: int, *, reason: str) -> dict:
        path = f"mod/members/{int(discord_id)}/ban"
        return await self.request("POST", path, actor, json={"reason": reason})

    async def take_down(self, actor: Actor, *, scope: str, value: str, reason: str) -> dict:
        body = {"scope": scope, "value": value, "reason": reason}
        return await self.request("POST", "mod/takedowns", actor, json=body)

    async def unrelayed_reports(self, actor: Actor, *, after: int = 0) -> list[dict]:
        params = {"after": after, "unrelayed": "true"}
        return (await self.request("GET", "reports", actor, params=params))["results"]

    async def mark_report_relayed(self, actor: Actor, report_id: int) -> dict:
        return await self.request("POST", f"reports/{int(report_id)}/relayed", actor)
