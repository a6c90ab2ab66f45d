"""An in-memory backend that speaks the node job protocol over real HTTP, for worker tests.

It implements ``/api/v1`` as the nodes see it (lease, heartbeat, submit, fail, nodes/me)
with the rules the worker relies on: leases expire, an expired lease answers 409,
submits are idempotent and checked against the kind's output schema, 401 for unknown or
revoked tokens. ``inject()`` scripts faults (5xx, 429 with Retry-After, ...) ahead of the
normal answers. Stands in for the Django backend until the worker's tests can use it.
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

from tests.support.fake_openai import JsonServer, Request, Response
from worker.kinds import UnknownKindError, get_kind

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
    ) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.max_output_bytes = max_output_bytes
        self.jobs: dict[int, FakeJob] = {}
        self.leases: dict[str, FakeLease] = {}
        self.requests: list[Request] = []
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
        """Recorded requests whose path ends with ``action`` (e.g. "submit", "jobs/lease")."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith(action)]

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
            if request.method == "POST" and path == "/api/v1/jobs/lease":
                return self._lease(token, request.body)
            match = _LEASE_PATH.match(path)
            if request.method == "POST" and match:
                lease = self.leases.get(match["lease_id"])
                if lease is None or lease.token != token:
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

    def _lease(self, token: str, body: Any) -> Response:
        max_jobs = body.get("max_jobs") if isinstance(body, dict) else None
        if not isinstance(max_jobs, int) or not 1 <= max_jobs <= 64:
            return Response(400, {"detail": "max_jobs must be 1..64", "errors": {"max_jobs": 1}})
        kinds = body.get("kinds")
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
        return Response(200, {"jobs": leased})

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
        if lease.answer is not None:
            return Response(200, lease.answer)
        if not self._current(lease):
            return Response(409, {"detail": "lease is no longer yours"})
        output = body.get("output")
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
        lease.ended = True
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


def _node_token(headers: dict[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token if scheme == "Node" else ""


def _iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
