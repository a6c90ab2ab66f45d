"""The node's main loop: lease while slots are free, run jobs concurrently, keep leases alive.

``concurrency`` bounds the jobs whose model work runs at once; up to ``prefetch`` more are
leased ahead and wait (their leases kept alive) so a freed slot starts work without waiting
for a lease round trip.

Shutdown (SIGINT/SIGTERM) stops leasing, lets running jobs finish for a grace period and
gives back every lease that is still unfinished so other nodes can pick the jobs up at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from worker.api import (
    AuthRefusedError,
    BackendClient,
    BackendError,
    Lease,
    LeaseLostError,
    OutputTooLargeError,
    SubmissionRejectedError,
)
from worker.kinds import JobKind
from worker.results import JobFailedError, JobRunner, RunnerUnavailableError, RunResult

log = logging.getLogger(__name__)

# How long giving back unfinished leases may take on shutdown before the node exits anyway.
RELEASE_TIMEOUT_S = 10.0
TOKEN_RATE_WINDOW_S = 30.0


@dataclass(frozen=True)
class RuntimeConfig:
    concurrency: int = 4
    batch: int = 4
    prefetch: int = 0
    once: bool = False
    poll_interval: float = 5.0
    grace_period: float = 10.0


@dataclass
class NodeStats:
    """Counters for the progress display and the final summary."""

    started_at: float = field(default_factory=time.monotonic)
    done: int = 0
    failed: int = 0
    released: int = 0
    dropped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _recent: deque[tuple[float, int]] = field(default_factory=deque)

    def add_tokens(self, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self._recent.append((time.monotonic(), prompt + completion))

    def tokens_per_second(self) -> float:
        """Prompt plus completion tokens per second over the last TOKEN_RATE_WINDOW_S."""
        now = time.monotonic()
        while self._recent and self._recent[0][0] < now - TOKEN_RATE_WINDOW_S:
            self._recent.popleft()
        window = min(TOKEN_RATE_WINDOW_S, max(1.0, now - self.started_at))
        return sum(tokens for _, tokens in self._recent) / window


@dataclass
class ActiveJob:
    """A leased job this node holds; ``settled`` once the backend has heard how it ended."""

    lease: Lease
    leased_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # when its model work began (it may wait for a slot)
    settled: bool = False
    drop_reason: str | None = None


class NodeRuntime:
    """Leases, runs, heartbeats and submits jobs until told to stop (or after one batch)."""

    def __init__(
        self,
        backend: BackendClient,
        runners: Mapping[str, JobRunner],
        kinds: Sequence[JobKind],
        config: RuntimeConfig,
    ) -> None:
        self.backend = backend
        self.runners = runners
        self.kinds = {kind.name: kind for kind in kinds}
        self.config = config
        self.stats = NodeStats()
        self.active: dict[str, ActiveJob] = {}
        self.auth_error: AuthRefusedError | None = None
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        # Leased jobs whose model work is waiting or running; submitting doesn't count.
        self._held = 0

    def request_shutdown(self, *, immediate: bool = False) -> None:
        """Stop leasing; with ``immediate`` skip the grace period (a second Ctrl-C)."""
        if not self._stopping.is_set():
            log.info("shutting down: no new leases, %d job(s) running", len(self.active))
        self._stopping.set()
        if immediate:
            self._hurry.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Work until shutdown; raises AuthRefusedError when the backend refuses the node."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            await self._lease_loop(tasks)
            if self.config.once and tasks and not self.stopping:
                await _first(asyncio.wait(tasks), self._stopping.wait())
        finally:
            await self._drain(tasks)
        if self.auth_error is not None:
            raise self.auth_error

    async def _lease_loop(self, tasks: set[asyncio.Task[None]]) -> None:
        while not self.stopping:
            self._slot_freed.clear()
            free = self.config.concurrency + self.config.prefetch - self._held
            if free <= 0:
                await _first(self._slot_freed.wait(), self._stopping.wait())
                continue
            kinds = sorted(self.kinds)
            if not kinds:
                log.error("no job kinds left that this node can run")
                self.request_shutdown()
                return
            lease_call = asyncio.ensure_future(
                self.backend.lease(min(self.config.batch, free), kinds)
            )
            await _first(lease_call, self._stopping.wait())
            if not lease_call.done():
                lease_call.cancel()
                return
            try:
                leases = lease_call.result()
            except AuthRefusedError as exc:
                self._refused(exc)
                return
            except BackendError as exc:
                log.warning("leasing failed: %s", exc)
                leases = []
                if self.config.once:
                    return
            self._held += len(leases)
            for lease in leases:
                # Tracked before the task runs, so a lease is released even if it never starts.
                job = self.active[lease.lease_id] = ActiveJob(lease)
                task = asyncio.create_task(self._run_job(job), name=f"job-{lease.job_id}")
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if self.config.once:
                return
            if not leases:
                await _first(asyncio.sleep(self.config.poll_interval), self._stopping.wait())

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Give running jobs the grace period, cancel the rest and release their leases."""
        pending = {task for task in tasks if not task.done()}
        if pending and not self._hurry.is_set():
            await _first(
                asyncio.wait(pending, timeout=self.config.grace_period), self._hurry.wait()
            )
        pending = {task for task in tasks if not task.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        unsettled = [job for job in self.active.values() if not job.settled]
        if unsettled and self.auth_error is None:
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(self._release(job) for job in unsettled)),
                    RELEASE_TIMEOUT_S,
                )
            except TimeoutError:
                log.warning("gave up releasing leases after %.0fs", RELEASE_TIMEOUT_S)

    async def _release(self, job: ActiveJob) -> None:
        try:
            await self._report(job, "node shutting down", release=True)
        except BackendError as exc:
            log.warning("job %d: could not release the lease: %s", job.lease.job_id, exc)
        self.active.pop(job.lease.lease_id, None)

    async def _run_job(self, job: ActiveJob) -> None:
        try:
            await self._see_through(job)
        except AuthRefusedError as exc:
            self._refused(exc)
        except BackendError as exc:
            log.error("job %d: could not reach the backend: %s", job.lease.job_id, exc)
        # Cancellation (shutdown) skips this: the job stays in self.active for _drain to release.
        self.active.pop(job.lease.lease_id, None)

    async def _see_through(self, job: ActiveJob) -> None:
        """Run the job and tell the backend how it ended: result, failure or give-back."""
        try:
            try:
                result = await self._work_with_heartbeat(job)
            finally:
                self._held -= 1
                self._slot_freed.set()
        except JobFailedError as exc:
            await self._report(job, str(exc), release=False)
        except RunnerUnavailableError as exc:
            log.warning("job %d: %s; giving it back", job.lease.job_id, exc)
            await self._report(job, str(exc), release=True)
        except Exception as exc:  # a bug in a kind or runner must not take the node down
            log.exception("job %d: unexpected error", job.lease.job_id)
            await self._report(job, f"worker error: {type(exc).__name__}: {exc}", release=False)
        else:
            if result is not None:
                await self._submit(job, result)

    async def _work_with_heartbeat(self, job: ActiveJob) -> RunResult | None:
        """The job's result, or None when the backend took the job away while it ran."""
        work = asyncio.create_task(self._execute_in_slot(job))
        beat = asyncio.create_task(self._keep_alive(job, work))
        try:
            return await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if job.drop_reason is None or (current is not None and current.cancelling()):
                raise
            log.info("job %d dropped: %s", job.lease.job_id, job.drop_reason)
            job.settled = True
            self.stats.dropped += 1
            return None
        finally:
            beat.cancel()

    async def _execute_in_slot(self, job: ActiveJob) -> RunResult:
        async with self._slots:
            job.started_at = time.monotonic()
            return await self._execute(job.lease)

    async def _execute(self, lease: Lease) -> RunResult:
        kind = self.kinds.get(lease.kind)
        if kind is None:
            raise RunnerUnavailableError(f"this node does not run {lease.kind!r} jobs")
        if kind.version != lease.kind_version:
            self.kinds.pop(kind.name, None)
            raise RunnerUnavailableError(
                f"{kind.name} job is version {lease.kind_version}, this node has version "
                f"{kind.version}: update alexandria-worker (no longer leasing {kind.name})"
            )
        errors = kind.input_errors(lease.payload)
        if errors:
            raise JobFailedError("payload does not match the input schema: " + "; ".join(errors))
        result = await self.runners[kind.runner].run(kind, lease.payload)
        errors = kind.output_errors(result.output)
        if errors:
            raise JobFailedError("output does not match the output schema: " + "; ".join(errors))
        return result

    async def _keep_alive(self, job: ActiveJob, work: asyncio.Task[RunResult]) -> None:
        interval = max(0.5, job.lease.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                reply = await self.backend.heartbeat(job.lease.lease_id)
            except LeaseLostError:
                job.drop_reason = "lease lost (expired and handed to another node)"
            except AuthRefusedError as exc:
                self._refused(exc)
                return
            except BackendError as exc:
                log.warning("job %d: heartbeat failed: %s", job.lease.job_id, exc)
                continue
            else:
                if reply.get("cancelled"):
                    job.drop_reason = "cancelled by the backend"
            if job.drop_reason is not None:
                work.cancel()
                return

    async def _submit(self, job: ActiveJob, result: RunResult) -> None:
        lease = job.lease
        stats = {
            "elapsed_s": round(time.monotonic() - (job.started_at or job.leased_at), 3),
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "model": result.model,
        }
        try:
            reply = await self.backend.submit(lease.lease_id, result.output, stats)
        except LeaseLostError:
            log.info("job %d: lease lost before the result got in", lease.job_id)
            job.settled = True
            self.stats.dropped += 1
            return
        except (OutputTooLargeError, SubmissionRejectedError) as exc:
            await self._report(job, f"backend refused the output: {exc}", release=False)
            return
        job.settled = True
        self.stats.done += 1
        self.stats.add_tokens(result.prompt_tokens, result.completion_tokens)
        log.info(
            "job %d %s: %s in %.1fs (%d+%d tokens)",
            lease.job_id,
            lease.kind,
            reply.get("status", "submitted"),
            stats["elapsed_s"],
            result.prompt_tokens,
            result.completion_tokens,
        )

    async def _report(self, job: ActiveJob, error: str, *, release: bool) -> None:
        lease = job.lease
        try:
            reply: dict[str, Any] = await self.backend.fail(lease.lease_id, error, release=release)
        except LeaseLostError:
            reply = {"job_status": "no longer ours"}
        job.settled = True
        if release:
            self.stats.released += 1
        else:
            self.stats.failed += 1
        log.log(
            logging.INFO if release else logging.WARNING,
            "job %d %s %s: %s (job now %s)",
            lease.job_id,
            lease.kind,
            "released" if release else "failed",
            error,
            reply.get("job_status", "?"),
        )

    def _refused(self, exc: AuthRefusedError) -> None:
        if self.auth_error is None:
            self.auth_error = exc
        self.request_shutdown(immediate=True)


async def _first(*awaitables: Awaitable[Any]) -> None:
    """Wait until the first of ``awaitables`` finishes, then cancel the rest that it wrapped.

    Futures and tasks passed in are left running: their owner decides what happens to them.
    """
    wrapped: list[asyncio.Future[Any]] = []
    waiting: list[asyncio.Future[Any]] = []
    for awaitable in awaitables:
        future = asyncio.ensure_future(awaitable)
        waiting.append(future)
        if future is not awaitable:
            wrapped.append(future)
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in wrapped:
            future.cancel()
