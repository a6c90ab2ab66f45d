"""An in-memory backend that speaks the node job protocol over real HTTP, for worker tests.

It implements ``/api/v1`` as the nodes see it (jobs/exchange, jobs/lease, heartbeat, submit,
fail, nodes/me, nodes/me/status) with the rules the worker relies on: leases expire, an
expired lease answers 409, results are idempotent (an identical repeat gets the first answer,
a different output 409) and checked against the kind's output schema, an exchange judges
each result on its own and then leases like jobs/lease, 401 for unknown or revoked tokens.
``inject()`` scripts faults (5xx, 429 with Retry-After, ...) ahead of the normal answers.
Stands in for the Django backend until the worker's tests can use it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobkinds import UnknownKindError, get_kind
from tests.support.fake_openai import JsonServer, Request, Response

_LEASE_PATH = re.compile(r"^/api/v1/leases/(?P<lease_id>[^/]+)/(?P<action>heartbeat|submit|fail)$")


@dataclass
class FakeJob:
    job_id: int
    kind: str
    kind_version: str
    payload: dict[str, Any]
    status: str = "queued"
    attempts: int = 0
    lease_id: str | None = None
    cancelled: bool = False
    output: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class FakeLease:
    lease_id: str
    job_id: int
    token: str
    expires_at: float
    output: Any = None  # the output handed in, once accepted
    answer: dict[str, Any] | None = None
    ended: bool = False


@dataclass
class _Fault:
    method: str
    path_prefix: str
    response: Response
    times: int


class FakeBackend(JsonServer):
    """The job protocol in memory; ``jobs``, ``leases`` and ``requests`` are for assertions."""

    def __init__(
        self,
        tokens: Iterable[str] = ("node-token",),
        *,
        lease_seconds: int = 30,
        max_attempts: int = 3,
        max_output_bytes: int = 1_000_000,
        exchange_max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.max_output_bytes = max_output_bytes
        self.exchange_max_bytes = exchange_max_bytes
        self.jobs: dict[int, FakeJob] = {}
        self.leases: dict[str, FakeLease] = {}
        self.requests: list[Request] = []
        self.statuses: list[dict[str, Any]] = []  # what the node reported, in order
        self._faults: deque[_Fault] = deque()
        self._job_ids = itertools.count(1)
        self._result_ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- scripting -----------------------------------------------------------------------

    def add_job(self, kind: str, payload: dict[str, Any], kind_version: str = "1") -> int:
        with self._lock:
            job_id = next(self._job_ids)
            self.jobs[job_id] = FakeJob(job_id, kind, kind_version, payload)
            return job_id

    def inject(
        self,
        method: str,
        path_prefix: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of the protocol."""
        response = Response(status, body or {"detail": f"injected {status}"}, headers or {})
        with self._lock:
            self._faults.append(_Fault(method, path_prefix, response, times))

    def cancel(self, job_id: int) -> None:
        """Cancel a job: its next heartbeat answers ``cancelled: true``."""
        with self._lock:
            self.jobs[job_id].cancelled = True
            self.jobs[job_id].status = "cancelled"

    def expire(self, lease_id: str) -> None:
        """Let a lease run out, so the job can be leased again and the old lease gets 409."""
        with self._lock:
            self.leases[lease_id].expires_at = 0.0

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.discard(token)

    # --- inspection ----------------------------------------------------------------------

    def calls(self, action: str) -> list[Request]:
        """Recorded requests whose path ends with ``action`` (e.g. "jobs/exchange", "fail")."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith(action)]

    def handed_in(self) -> list[list[str]]:
        """The lease ids of the results each exchange carried, in order (empty: none)."""
        return [
            [item["lease_id"] for item in call.body.get("results", [])]
            for call in self.calls("jobs/exchange")
        ]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if condition():
                    return
            time.sleep(0.01)
        raise TimeoutError("fake backend condition not met in time")

    # --- protocol ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            fault = self._take_fault(request)
            if fault is not None:
                return fault
            token = _node_token(request.headers)
            if token not in self.tokens:
                return Response(401, {"detail": "invalid or revoked node token"})
            path = request.path.split("?", 1)[0]
            if request.method == "GET" and path == "/api/v1/nodes/me":
                return Response(
                    200, {"id": 1, "name": f"node-{token[:4]}", "capabilities": {}, "trust": 1.0}
                )
            if request.method == "POST" and path == "/api/v1/nodes/me/status":
                self.statuses.append(request.body)
                return Response(200, request.body)
            if request.method == "POST" and path == "/api/v1/jobs/lease":
                return self._lease(token, request.body)
            if request.method == "POST" and path == "/api/v1/jobs/exchange":
                return self._exchange(token, request)
            match = _LEASE_PATH.match(path)
            if request.method == "POST" and match:
                lease = self._lease_of(token, match["lease_id"])
                if lease is None:
                    return Response(404, {"detail": "no such lease"})
                action = getattr(self, "_" + match["action"])
                return action(lease, request.body or {})
            return Response(404, {"detail": f"no route {request.method} {path}"})

    def _take_fault(self, request: Request) -> Response | None:
        for fault in self._faults:
            if fault.method == request.method and request.path.startswith(fault.path_prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault.response
        return None

    def _current(self, lease: FakeLease) -> bool:
        job = self.jobs[lease.job_id]
        return (
            job.lease_id == lease.lease_id
            and not lease.ended
            and lease.expires_at > time.monotonic()
        )

    def _lease_of(self, token: str, lease_id: Any) -> FakeLease | None:
        lease = self.leases.get(str(lease_id))
        return lease if lease is not None and lease.token == token else None

    def _lease(self, token: str, body: Any) -> Response:
        max_jobs = body.get("max_jobs") if isinstance(body, dict) else None
        if not isinstance(max_jobs, int) or not 1 <= max_jobs <= 64:
            return Response(400, {"detail": "max_jobs must be 1..64", "errors": {"max_jobs": 1}})
        return Response(200, {"jobs": self._lease_jobs(token, max_jobs, body.get("kinds"))})

    def _exchange(self, token: str, request: Request) -> Response:
        """Judge each result as a submit would, then lease up to ``max_jobs`` jobs."""
        if int(_header(request.headers, "Content-Length") or 0) > self.exchange_max_bytes:
            return Response(413, {"detail": "exchange request too large"})
        body = request.body
        if not isinstance(body, dict):
            return Response(400, {"detail": "Invalid input.", "errors": {"": ["not an object"]}})
        results, max_jobs = body.get("results", []), body.get("max_jobs", 0)
        if not isinstance(results, list) or not all(
            isinstance(item, dict) and "lease_id" in item for item in results
        ):
            return Response(400, {"detail": "Invalid input.", "errors": {"results": ["bad"]}})
        lease_ids = [str(item["lease_id"]) for item in results]
        if len(results) > 64 or len(set(lease_ids)) != len(lease_ids):
            errors = {"results": ["at most 64, lease ids unique"]}
            return Response(400, {"detail": "Invalid input.", "errors": errors})
        if not isinstance(max_jobs, int) or not 0 <= max_jobs <= 64:
            return Response(400, {"detail": "Invalid input.", "errors": {"max_jobs": ["0..64"]}})
        outcomes = [self._outcome(token, item) for item in results]
        jobs = self._lease_jobs(token, max_jobs, body.get("kinds"))
        return Response(200, {"results": outcomes, "jobs": jobs})

    def _outcome(self, token: str, item: dict[str, Any]) -> dict[str, Any]:
        lease = self._lease_of(token, item["lease_id"])
        if lease is None:
            answer = Response(404, {"detail": "no such lease"})
        else:
            answer = self._submit(lease, item)
        accepted = answer.status == 200
        return {
            "lease_id": str(item["lease_id"]),
            "status": answer.status,
            "result_id": answer.body["result_id"] if accepted else None,
            "result_status": answer.body["status"] if accepted else None,
            "detail": "" if accepted else answer.body["detail"],
            "errors": answer.body.get("errors"),
        }

    def _lease_jobs(self, token: str, max_jobs: int, kinds: Any) -> list[dict[str, Any]]:
        now = time.monotonic()
        leased = []
        for job in self.jobs.values():
            if len(leased) == max_jobs:
                break
            if kinds and job.kind not in kinds:
                continue
            expired = job.status == "leased" and self.leases[job.lease_id].expires_at <= now
            if job.status != "queued" and not expired:
                continue
            lease = FakeLease(str(uuid.uuid4()), job.job_id, token, now + self.lease_seconds)
            self.leases[lease.lease_id] = lease
            job.status, job.lease_id = "leased", lease.lease_id
            leased.append(
                {
                    "lease_id": lease.lease_id,
                    "job_id": job.job_id,
                    "kind": job.kind,
                    "kind_version": job.kind_version,
                    "payload": job.payload,
                    "lease_expires_at": _iso_in(self.lease_seconds),
                    "lease_seconds": self.lease_seconds,
                }
            )
        return leased

    def _heartbeat(self, lease: FakeLease, body: dict[str, Any]) -> Response:
        if not self._current(lease):
            return Response(409, {"detail": "lease is no longer yours"})
        lease.expires_at = time.monotonic() + self.lease_seconds
        return Response(
            200,
            {
                "lease_id": lease.lease_id,
                "lease_expires_at": _iso_in(self.lease_seconds),
                "cancelled": self.jobs[lease.job_id].cancelled,
            },
        )

    def _submit(self, lease: FakeLease, body: dict[str, Any]) -> Response:
        output = body.get("output")
        if lease.answer is not None:
            if output != lease.output:
                return Response(409, {"detail": "a different output was already submitted"})
            return Response(200, lease.answer)
        if not self._current(lease):
            return Response(409, {"detail": "lease is no longer yours"})
        if len(json.dumps(output)) > self.max_output_bytes:
            return Response(413, {"detail": "output too large"})
        job = self.jobs[lease.job_id]
        try:
            errors = get_kind(job.kind).output_errors(output)
        except UnknownKindError:
            errors = []
        if not isinstance(output, dict) or errors:
            return Response(400, {"detail": "output does not match the schema", "errors": errors})
        job.status, job.output, job.stats = "done", output, body.get("stats")
        lease.ended, lease.output = True, output
        lease.answer = {"result_id": next(self._result_ids), "status": "accepted"}
        return Response(200, lease.answer)

    def _fail(self, lease: FakeLease, body: dict[str, Any]) -> Response:
        if not self._current(lease):
            return Response(409, {"detail": "lease is no longer yours"})
        job = self.jobs[lease.job_id]
        lease.ended = True
        job.errors.append(str(body.get("error", "")))
        if body.get("release"):
            job.status = "queued"
        else:
            job.attempts += 1
            job.status = "failed" if job.attempts >= self.max_attempts else "queued"
        return Response(200, {"job_status": job.status, "attempts": job.attempts})


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def _node_token(headers: dict[str, str]) -> str:
    scheme, _, token = _header(headers, "Authorization").partition(" ")
    return token if scheme == "Node" else ""


def _iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
