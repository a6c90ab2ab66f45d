"""The node's main loop: exchange results for new jobs, run jobs concurrently, keep leases alive.

Finished results wait in an outbox; the exchange loop hands them in with a request for as
many jobs as there are free slots, so one round trip both delivers and refills (BOINC's
scheduler RPC). Results go out as soon as they are pending, slot or not: a finished job is no
longer heartbeated, so its lease would run out in the outbox.

``concurrency`` bounds the jobs whose model work runs at once; up to ``prefetch`` more are
leased ahead and wait (their leases kept alive) so a freed slot starts work without waiting
for a round trip.

A runner whose model stops answering trips a circuit breaker: the jobs that failed on it are
given back once, the jobs waiting for a slot go back untried, and its kinds are not leased
again until a probe of the model succeeds; probes back off exponentially, and so does the
first probe after each trip until a job runs through, so a model that answers probes but
fails jobs cannot drive a lease/release loop either. The node tells the backend it is paused
and why (``POST /nodes/me/status``). A runner unused for ``health_check_s`` is probed before
its kinds are leased again.

Shutdown (SIGINT/SIGTERM) stops leasing, lets running jobs finish and hand in their results
for a grace period, then gives back every lease that is still unfinished so other nodes can
pick the jobs up at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobkinds import CONTRACTS, JobKind
from worker.api import (
    EXCHANGE_MAX_BYTES,
    EXCHANGE_MAX_RESULTS,
    AuthRefusedError,
    BackendClient,
    BackendError,
    FinishedResult,
    Lease,
    LeaseLostError,
    OutputTooLargeError,
    ResultOutcome,
    SubmissionRejectedError,
    encode_json,
    exchange_request,
)
from worker.results import JobFailedError, JobRunner, RunnerUnavailableError, RunResult

log = logging.getLogger(__name__)

# How long the last hand-in and giving back unfinished leases may take on shutdown.
RELEASE_TIMEOUT_S = 10.0
TOKEN_RATE_WINDOW_S = 30.0
# A model that does not answer a probe within this long counts as unavailable.
PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RuntimeConfig:
    concurrency: int = 4
    batch: int = 4
    prefetch: int = 0
    once: bool = False
    poll_interval: float = 5.0
    grace_period: float = 10.0
    breaker_backoff_s: float = 1.0  # first wait before probing a model that stopped answering
    breaker_backoff_cap_s: float = 60.0
    health_check_s: float = 30.0  # probe a runner unused this long before leasing for it

    def breaker_delay(self, failures: int) -> float:
        return min(self.breaker_backoff_cap_s, self.breaker_backoff_s * 2 ** max(0, failures - 1))


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


@dataclass
class Pause:
    """A runner's open circuit breaker: why, and when its model is probed next."""

    reason: str
    probe_at: float
    failed_probes: int = 0


@dataclass
class PendingResult:
    """A finished job's result in the outbox, waiting for the next exchange to carry it."""

    job: ActiveJob
    result: FinishedResult
    size: int  # bytes it adds to an exchange request
    alone: bool = False  # refused in company as a whole: goes in a request of its own


class NodeRuntime:
    """Exchanges results for jobs, runs and heartbeats them until told to stop (or one batch)."""

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
        # Results not handed in yet, oldest first, by lease id.
        self._outbox: dict[str, PendingResult] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._grace_over = asyncio.Event()
        # Set whenever the exchange loop may have something new to do.
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        # Leased jobs whose model work is waiting or running; handing in doesn't count.
        self._held = 0
        self._batch_asked_for = False  # --once: the one batch has been asked for
        # Open circuit breakers by runner name, and trips since the runner last ran a job.
        self.paused: dict[str, Pause] = {}
        self._trips: dict[str, int] = {}
        self._healthy_at = dict.fromkeys(runners, time.monotonic())
        self._probe_wake = asyncio.Event()
        self._side_tasks: set[asyncio.Task[None]] = set()  # status reports

    def request_shutdown(self, *, immediate: bool = False) -> None:
        """Stop leasing; with ``immediate`` skip the grace period (a second Ctrl-C)."""
        if not self._stopping.is_set():
            log.info("shutting down: no new leases, %d job(s) running", len(self.active))
            self._stopping.set()
            self._wake.set()
        if immediate:
            self._grace_over.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def _leasing(self) -> bool:
        return not self.stopping and not self._batch_asked_for

    async def run(self) -> None:
        """Work until shutdown; raises AuthRefusedError when the backend refuses the node."""
        grace_timer = asyncio.create_task(self._time_grace_period())
        prober = asyncio.create_task(self._probe_loop())
        try:
            await self._exchange_loop()
        finally:
            grace_timer.cancel()
            prober.cancel()
            await self._drain()
        if self.auth_error is not None:
            raise self.auth_error

    async def _time_grace_period(self) -> None:
        """End the grace period ``grace_period`` seconds after shutdown was asked for."""
        await self._stopping.wait()
        await asyncio.sleep(self.config.grace_period)
        self._grace_over.set()

    async def _exchange_loop(self) -> None:
        """Hand in results and lease jobs until all is seen through or the grace period ends."""
        while not self._grace_over.is_set():
            self._wake.clear()
            if self._leasing and not self.kinds:
                log.error("no job kinds left that this node can run")
                self.request_shutdown()
            if self._leasing and not self._outbox:
                await self._check_idle_runners()
            wanted = self._jobs_wanted()
            if not self._outbox and not wanted:
                if not self._leasing and not self._tasks:
                    return
                await _first(self._wake.wait(), self._grace_over.wait())
                continue
            batch = self._next_batch(wanted)
            # A bare lease request gives way to shutdown at once; results get the grace period.
            leased = await self._exchange(
                batch, wanted, until=self._grace_over if batch else self._stopping
            )
            if wanted and self.config.once:
                self._batch_asked_for = True
            if leased is None or (wanted and not leased and not self._outbox):
                # Failed, or nothing to do: ask again after a pause a new result cuts short.
                await _first(
                    asyncio.sleep(self.config.poll_interval),
                    self._wake.wait(),
                    self._grace_over.wait(),
                )

    def _jobs_wanted(self) -> int:
        """Jobs to ask for: up to a batch for the free slots, none once leasing is over."""
        if not self._leasing or not self._lease_kinds():
            return 0
        free = self.config.concurrency + self.config.prefetch - self._held
        return max(0, min(self.config.batch, free))

    def _lease_kinds(self) -> list[str]:
        """The kinds to lease: those whose runner's circuit breaker is closed."""
        return sorted(name for name, kind in self.kinds.items() if kind.runner not in self.paused)

    # --- the circuit breaker ---------------------------------------------------------------

    def pause(self, runner: str, reason: str, *, override: bool = False) -> None:
        """Stop leasing ``runner``'s kinds until its model answers a probe; ``override``
        replaces the reason of a pause already open (the supervisor knows better)."""
        pause = self.paused.get(runner)
        if pause is not None:
            if override and reason != pause.reason:
                pause.reason = reason
                self._report_status()
            return
        trips = self._trips[runner] = self._trips.get(runner, 0) + 1
        delay = self.config.breaker_delay(trips)
        self.paused[runner] = Pause(reason, probe_at=time.monotonic() + delay)
        log.warning(
            "paused: %s; no new %s jobs until its model answers (first probe in %.0fs)",
            reason,
            runner,
            delay,
        )
        self._report_status()
        self._probe_wake.set()

    async def _probe_loop(self) -> None:
        """Probe paused runners' models when due; a success closes their breaker."""
        while True:
            if not self.paused:
                self._probe_wake.clear()
                await self._probe_wake.wait()
                continue
            runner, pause = min(self.paused.items(), key=lambda item: item[1].probe_at)
            delay = pause.probe_at - time.monotonic()
            if delay > 0:
                self._probe_wake.clear()
                await _first(asyncio.sleep(delay), self._probe_wake.wait())
                continue
            try:
                await self._probe(runner)
            except RunnerUnavailableError as exc:
                pause.failed_probes += 1
                wait = self.config.breaker_delay(self._trips[runner] + pause.failed_probes)
                pause.probe_at = time.monotonic() + wait
                log.info("%s model still unavailable (%s); next probe in %.0fs", runner, exc, wait)
                continue
            self._resume(runner)

    def _resume(self, runner: str) -> None:
        if self.paused.pop(runner, None) is not None:
            log.info("%s model answers again: leasing its jobs again", runner)
            self._report_status()
            self._wake.set()

    async def _probe(self, runner: str) -> None:
        """Raise RunnerUnavailableError unless ``runner``'s model answers; a runner that
        cannot be probed is tried again with a job once its back-off is over."""
        probe = getattr(self.runners[runner], "probe", None)
        if probe is not None:
            try:
                await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
            except TimeoutError:
                raise RunnerUnavailableError(
                    f"no answer to a probe within {PROBE_TIMEOUT_S:.0f}s"
                ) from None
        self._healthy_at[runner] = time.monotonic()

    async def _check_idle_runners(self) -> None:
        """Probe the models of runners unused for ``health_check_s`` before leasing for them."""
        stale = time.monotonic() - self.config.health_check_s
        for runner, healthy_at in list(self._healthy_at.items()):
            if runner in self.paused or healthy_at > stale or self._busy(runner):
                continue
            try:
                await self._probe(runner)
            except RunnerUnavailableError as exc:
                self.pause(runner, f"health check failed: {exc}")

    def _busy(self, runner: str) -> bool:
        """Whether a job is running on ``runner``: its model is answering (a probe would
        only queue behind it; llama.cpp's server answers one request at a time)."""
        return any(
            job.started_at is not None
            and (kind := self.kinds.get(job.lease.kind)) is not None
            and kind.runner == runner
            for job in self.active.values()
        )

    def _report_status(self) -> None:
        """Tell the backend whether the node is paused and why (in the background)."""
        if self.paused:
            state = "paused"
            reason = "; ".join(pause.reason for pause in self.paused.values())
        else:
            state, reason = "working", ""
        task = asyncio.create_task(self.report_status(state, reason))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def report_status(self, state: str, reason: str) -> None:
        try:
            await self.backend.report_status(state, reason)
        except BackendError as exc:
            log.warning("could not report the node's status (%s): %s", state, exc)

    def _room(self, max_jobs: int) -> int:
        """Bytes an exchange asking for ``max_jobs`` jobs leaves for its results."""
        envelope = exchange_request([], max_jobs, sorted(self.kinds))
        return EXCHANGE_MAX_BYTES - len(encode_json(envelope))

    def _next_batch(self, max_jobs: int) -> list[PendingResult]:
        """The oldest pending results that fit one request (a result marked ``alone`` alone)."""
        room = self._room(max_jobs)
        batch: list[PendingResult] = []
        for pending in self._outbox.values():
            cost = pending.size + 1  # and a comma
            if batch and (
                pending.alone or batch[0].alone or len(batch) == EXCHANGE_MAX_RESULTS or cost > room
            ):
                break
            batch.append(pending)
            room -= cost
        return batch

    async def _exchange(
        self, batch: list[PendingResult], max_jobs: int, *, until: asyncio.Event | None = None
    ) -> int | None:
        """One round trip: hand in ``batch``, lease up to ``max_jobs`` jobs and start them.

        Returns how many jobs were leased, or None when the exchange failed or ``until`` cut
        it short; results not answered stay in the outbox for the next one.
        """
        call = asyncio.ensure_future(
            self.backend.exchange(
                [pending.result for pending in batch], max_jobs, self._lease_kinds()
            )
        )
        if until is not None:
            await _first(call, until.wait())
            if not call.done():
                call.cancel()
                return None
        try:
            reply = await call
        except AuthRefusedError as exc:
            self._refused(exc)
            return None
        except (SubmissionRejectedError, OutputTooLargeError) as exc:
            if not batch:
                log.warning("leasing failed: %s", exc)
                return None
            # Refused as a whole, so the backend can't say which result is at fault: each goes
            # alone, and a result refused on its own takes the refusal as its answer.
            if len(batch) == 1:
                status = 413 if isinstance(exc, OutputTooLargeError) else 400
                refusal = ResultOutcome(
                    batch[0].job.lease.lease_id, status, None, None, str(exc), None
                )
                self._settle(batch[0], refusal)
            else:
                log.warning(
                    "%d results refused together (%s); handing them in one by one", len(batch), exc
                )
                for pending in batch:
                    pending.alone = True
            return 0
        except BackendError as exc:
            log.warning(
                "exchange failed (%d result(s) still to hand in): %s", len(self._outbox), exc
            )
            return None
        for pending, outcome in zip(batch, reply.outcomes, strict=True):
            self._settle(pending, outcome)
        self._start(reply.leases)
        return len(reply.leases)

    def _start(self, leases: Sequence[Lease]) -> None:
        """Track new leases and start their jobs, unless shutdown has begun."""
        for lease in leases:
            # Tracked before the task runs, so a lease is released even if it never starts.
            job = self.active[lease.lease_id] = ActiveJob(lease)
            if self.stopping:
                continue  # leased as shutdown began: _drain gives it back
            self._held += 1
            self._spawn(job, lambda job=job: self._see_through(job))

    def _spawn(self, job: ActiveJob, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` of the job as a task the exchange loop and shutdown keep track of."""
        task = asyncio.create_task(self._guarded(job, step), name=f"job-{job.lease.job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _guarded(self, job: ActiveJob, step: Callable[[], Awaitable[None]]) -> None:
        """Run a step of a job's life; backend refusals and outages end the job, not the node."""
        try:
            await step()
        except AuthRefusedError as exc:
            self._refused(exc)
        except BackendError as exc:
            log.error("job %d: could not reach the backend: %s", job.lease.job_id, exc)
        # Cancellation (shutdown) skips this: the job stays in self.active for _drain to release.
        if job.lease.lease_id not in self._outbox:
            self.active.pop(job.lease.lease_id, None)

    async def _drain(self) -> None:
        """Cancel jobs still running, hand in pending results and release every other lease."""
        running = [task for task in self._tasks if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if self.auth_error is not None or not self.active:
            return
        try:
            await asyncio.wait_for(self._hand_back(), RELEASE_TIMEOUT_S)
        except TimeoutError:
            log.warning("gave up handing back leases after %.0fs", RELEASE_TIMEOUT_S)

    async def _hand_back(self) -> None:
        """Shutdown's last round trips: pending results in, every other unfinished lease back."""
        while self._outbox:
            if await self._exchange(self._next_batch(0), 0) is None:
                break
        # Reports of outputs the backend refused just now.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.auth_error is not None:
            return
        unsettled = [job for job in self.active.values() if not job.settled]
        await asyncio.gather(*(self._release(job) for job in unsettled))

    async def _release(self, job: ActiveJob) -> None:
        try:
            await self._report(job, "node shutting down", release=True)
        except BackendError as exc:
            log.warning("job %d: could not release the lease: %s", job.lease.job_id, exc)
        self.active.pop(job.lease.lease_id, None)

    async def _see_through(self, job: ActiveJob) -> None:
        """Run the job and either put its result in the outbox or report how it ended."""
        try:
            try:
                result = await self._work_with_heartbeat(job)
            finally:
                self._held -= 1
                self._wake.set()
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
                await self._hand_in(job, result)

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
            kind = self.kinds.get(job.lease.kind)
            pause = None if kind is None else self.paused.get(kind.runner)
            if pause is not None:  # waited for a slot while the model went away
                raise RunnerUnavailableError(f"paused: {pause.reason}")
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
        if lease.contract not in CONTRACTS:
            raise RunnerUnavailableError(
                f"the job asks for the {lease.contract!r} output contract, which this node does "
                "not know: update alexandria-worker"
            )
        errors = kind.input_errors(lease.payload)
        if errors:
            raise JobFailedError("payload does not match the input schema: " + "; ".join(errors))
        try:
            result = await self.runners[kind.runner].run(kind, lease.payload, lease.contract)
        except RunnerUnavailableError as exc:
            # Paused before the slot frees, so no job waiting for it tries the model too.
            self.pause(kind.runner, str(exc))
            raise
        self._healthy_at[kind.runner] = time.monotonic()
        self._trips.pop(kind.runner, None)
        self._resume(kind.runner)  # a job that ran through proves the model answers
        errors = kind.contract_errors(result.output, lease.contract, lease.payload)
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

    async def _hand_in(self, job: ActiveJob, result: RunResult) -> None:
        """Put the result in the outbox, unless it is too large for any exchange to carry."""
        stats = {
            "elapsed_s": round(time.monotonic() - (job.started_at or job.leased_at), 3),
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "model": result.model,
        }
        finished = FinishedResult(job.lease.lease_id, result.output, stats)
        size = len(encode_json(finished.as_json()))
        room = self._room(EXCHANGE_MAX_RESULTS)
        if size + 1 > room:
            error = f"result is {size:,} bytes, more than an exchange can carry ({room:,})"
            await self._report(job, error, release=False)
            return
        self._outbox[job.lease.lease_id] = PendingResult(job, finished, size)
        self._wake.set()

    def _settle(self, pending: PendingResult, outcome: ResultOutcome) -> None:
        """Act on the backend's answer to a result, as the answer to a submit would say."""
        job, stats = pending.job, pending.result.stats
        lease = job.lease
        del self._outbox[lease.lease_id]
        if outcome.status not in (200, 404, 409):  # 400 breaks the schema, 413 too large
            error = f"backend refused the output: {outcome.reason}"
            self._spawn(job, lambda: self._report(job, error, release=False))
            return
        job.settled = True
        self.active.pop(lease.lease_id, None)
        if outcome.status != 200:
            log.info("job %d: lease lost before the result got in", lease.job_id)
            self.stats.dropped += 1
            return
        self.stats.done += 1
        self.stats.add_tokens(stats["prompt_tokens"], stats["completion_tokens"])
        log.info(
            "job %d %s: %s in %.1fs (%d+%d tokens)",
            lease.job_id,
            lease.kind,
            outcome.result_status or "submitted",
            stats["elapsed_s"],
            stats["prompt_tokens"],
            stats["completion_tokens"],
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
