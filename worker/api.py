"""HTTP client for the backend's job protocol, with the retry rules every call shares.

Network errors and 5xx answers are retried with bounded exponential backoff and jitter,
429 waits for ``Retry-After``; the statuses that mean something to the node become
exceptions (auth refused, lease lost, request too large, request rejected).

Results go in through ``POST /jobs/exchange``, which also leases the next jobs, so a busy
node needs one round trip per batch of finished jobs (BOINC's scheduler RPC).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from jobkinds import TINY
from worker import __version__

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# The backend's limits on one exchange request (its EXCHANGE_MAX_BYTES defaults to 8 MiB).
EXCHANGE_MAX_RESULTS = 64
EXCHANGE_MAX_BYTES = 8 * 1024 * 1024
# The backend keeps this much of the reason a node gives for its status.
STATUS_REASON_MAX = 500


class BackendError(Exception):
    """The backend answered in a way the node cannot act on."""


class AuthRefusedError(BackendError):
    """401/403: the node token is wrong or revoked, or the node is banned."""


class LeaseLostError(BackendError):
    """409: the lease expired and the job now belongs to someone else (or is finished)."""


class OutputTooLargeError(BackendError):
    """413: the request (an exchange of results) is over the backend's size limit."""


class SubmissionRejectedError(BackendError):
    """400: the backend found the request malformed; ``errors`` says why."""

    def __init__(self, detail: str, errors: Any = None) -> None:
        super().__init__(detail if errors is None else f"{detail}: {errors}")
        self.detail = detail
        self.errors = errors


class BackendUnavailableError(BackendError):
    """The backend stayed unreachable or kept failing through every retry."""


@dataclass(frozen=True)
class Lease:
    """One leased job, as the backend handed it out. ``contract`` is the output contract the
    result must meet (``jobkinds.CONTRACTS``; a backend that names none holds nodes to tiny)."""

    lease_id: str
    job_id: int
    kind: str
    kind_version: str
    payload: dict[str, Any]
    lease_seconds: int
    lease_expires_at: str
    contract: str = TINY

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lease:
        return cls(
            lease_id=str(data["lease_id"]),
            job_id=int(data["job_id"]),
            kind=str(data["kind"]),
            kind_version=str(data["kind_version"]),
            payload=data["payload"],
            lease_seconds=int(data["lease_seconds"]),
            lease_expires_at=str(data["lease_expires_at"]),
            contract=str(data.get("contract") or TINY),
        )


@dataclass(frozen=True)
class FinishedResult:
    """A job's valid output and usage, to hand in with an exchange."""

    lease_id: str
    output: dict[str, Any]
    stats: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"lease_id": self.lease_id, "output": self.output, "stats": self.stats}


@dataclass(frozen=True)
class ResultOutcome:
    """What the backend made of one handed-in result.

    ``status`` is what ``POST /leases/<id>/submit`` would have answered: 200 accepted (or an
    identical repeat), 400 output breaks the kind's schema, 404 no such lease of this node,
    409 lease lost or a different output already in, 413 output too large.
    """

    lease_id: str
    status: int
    result_id: int | None
    result_status: str | None
    detail: str
    errors: Any

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultOutcome:
        result_id = data.get("result_id")
        return cls(
            lease_id=str(data["lease_id"]),
            status=int(data["status"]),
            result_id=None if result_id is None else int(result_id),
            result_status=data.get("result_status"),
            detail=str(data.get("detail") or ""),
            errors=data.get("errors"),
        )

    @property
    def reason(self) -> str:
        """The refusal in one line, schema errors included."""
        return self.detail if self.errors is None else f"{self.detail}: {self.errors}"


@dataclass(frozen=True)
class ExchangeReply:
    """The answer to one exchange: an outcome per result handed in (same order), new leases."""

    outcomes: tuple[ResultOutcome, ...]
    leases: tuple[Lease, ...]


def exchange_request(
    results: Sequence[FinishedResult], max_jobs: int, kinds: Sequence[str] | None = None
) -> dict[str, Any]:
    """The JSON body of ``POST /jobs/exchange``."""
    body: dict[str, Any] = {
        "results": [result.as_json() for result in results],
        "max_jobs": max_jobs,
    }
    if kinds:
        body["kinds"] = list(kinds)
    return body


def encode_json(value: Any) -> bytes:
    """The bytes a request body goes out as, so sizes measured with it are the sizes sent."""
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: ``attempts`` tries in all, delays doubling from ``base`` to ``cap``."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 300.0

    def backoff(self, failures: int) -> float:
        """Delay before the next try after ``failures`` failed ones ("equal jitter")."""
        ceiling = min(self.cap, self.base * 2 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackendClient:
    """The node's side of ``/api/v1``: exchange, lease, heartbeat, fail, who-am-I and status."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=server.rstrip("/") + "/api/v1",
            headers={
                "Authorization": f"Node {token}",
                "User-Agent": f"alexandria-worker/{__version__}",
            },
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def me(self) -> dict[str, Any]:
        return await self._call("GET", "/nodes/me")

    async def lease(self, max_jobs: int, kinds: list[str] | None = None) -> list[Lease]:
        body: dict[str, Any] = {"max_jobs": max_jobs}
        if kinds:
            body["kinds"] = kinds
        reply = await self._call("POST", "/jobs/lease", body)
        return [Lease.from_json(job) for job in reply.get("jobs", [])]

    async def heartbeat(self, lease_id: str) -> dict[str, Any]:
        """Extend the lease; the reply's ``cancelled`` says whether to stop working."""
        return await self._call("POST", f"/leases/{lease_id}/heartbeat", {})

    async def exchange(
        self,
        results: Sequence[FinishedResult],
        max_jobs: int,
        kinds: Sequence[str] | None = None,
    ) -> ExchangeReply:
        """Hand in ``results`` and lease up to ``max_jobs`` more jobs in one round trip.

        Safe to retry: the backend answers a repeat of an identical result as it did the first
        time, so a request whose answer was lost can go out again.
        """
        reply = await self._call(
            "POST", "/jobs/exchange", exchange_request(results, max_jobs, kinds)
        )
        outcomes = tuple(ResultOutcome.from_json(item) for item in reply.get("results", []))
        if [outcome.lease_id for outcome in outcomes] != [result.lease_id for result in results]:
            raise BackendError("the exchange's outcomes do not match the results handed in")
        leases = tuple(Lease.from_json(job) for job in reply.get("jobs", []))
        return ExchangeReply(outcomes, leases)

    async def declare_model_class(self, model_class: str) -> dict[str, Any]:
        """Store what this node's model can do with its capabilities (``jobkinds.CONTRACTS``):
        the backend then leases it jobs under that output contract. The node as it now is."""
        return await self._call("PATCH", "/nodes/me", {"model_class": model_class})

    async def report_status(self, state: str, reason: str) -> dict[str, Any]:
        """Tell the backend whether this node works, is paused (its model is unavailable) or
        has stopped, and why; shown to its owner and in admin."""
        return await self._call(
            "POST", "/nodes/me/status", {"state": state, "reason": reason[:STATUS_REASON_MAX]}
        )

    async def fail(self, lease_id: str, error: str, *, release: bool) -> dict[str, Any]:
        """Report a failed job, or give it back untouched with ``release=True``."""
        return await self._call(
            "POST", f"/leases/{lease_id}/fail", {"error": error[:4000], "release": release}
        )

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        content = None if body is None else encode_json(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        failures = 0
        while True:
            try:
                response = await self._http.request(method, path, content=content, headers=headers)
            except httpx.TransportError as exc:
                failures += 1
                reason = f"{type(exc).__name__}: {exc}"
                delay = self.retry.backoff(failures)
            else:
                status = response.status_code
                if status < 400:
                    return response.json() if response.content else {}
                if status in (401, 403):
                    raise AuthRefusedError(_detail(response))
                if status == 409:
                    raise LeaseLostError(_detail(response))
                if status == 413:
                    raise OutputTooLargeError(_detail(response))
                if status == 400:
                    data = _json_or_none(response) or {}
                    raise SubmissionRejectedError(
                        str(data.get("detail", "bad request")), data.get("errors")
                    )
                if status != 429 and status < 500:
                    raise BackendError(f"{method} {path}: HTTP {status}: {_detail(response)}")
                failures += 1
                reason = f"HTTP {status}"
                delay = self.retry.backoff(failures)
                if status == 429:
                    waited = retry_after_seconds(response.headers.get("Retry-After"))
                    if waited is not None:
                        delay = min(waited, self.retry.max_retry_after)
            if failures >= self.retry.attempts:
                raise BackendUnavailableError(f"{method} {path}: {reason} after {failures} tries")
            log.debug("%s %s: %s, retrying in %.2fs", method, path, reason, delay)
            await self._sleep(delay)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str:
    data = _json_or_none(response)
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return response.text[:500] or f"HTTP {response.status_code}"
