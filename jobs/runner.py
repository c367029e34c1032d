"""Running one tick of one job: claim it, try it (timeout, retries), record it, tell staff.

The same path serves the scheduler's ticks and `pbxbridge jobs run NAME`, so a manual run
is claimed, bounded and recorded exactly like a scheduled one, and cannot overlap a run of
the same job going on in the service (or in another instance).

Results: `ok`; `skipped` (the job chose to do nothing and said why, or Ubilling answered
that its own run was still going; or the job's earlier run was still going here, then
`attempts` is 0); `failed` (it raised: the error's text, secrets redacted); `timeout` (an
attempt overran the job's timeout and was cancelled). Failures go to the alert path once
per failing streak: the first failed (or timed-out) run after an ok one, or after none; an
ok run after failures is told too. Skipped runs neither start nor end a streak.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from jobs.errors import JobFailed
from jobs.job import Job
from jobs.models import FAILED, FAILURES, OK, SKIPPED, TIMEOUT
from jobs.store import Finished, RunStore
from primitives.job_result import JobResult

log = logging.getLogger("pbxbridge.jobs")

Alert = Callable[[str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
CUT_OFF = "cut off: the service stopped during the run"


@dataclass(frozen=True, slots=True)
class RunReport:
    """What became of a tick this instance claimed."""

    run_id: int
    job: str
    result: str
    attempts: int
    output: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class _Try:
    end: Finished
    retry: bool


def _one_line(text: str) -> str:
    return " ".join(text.split())


class JobRunner:
    def __init__(
        self,
        store: RunStore,
        *,
        alert: Alert | None = None,
        redact: Callable[[str], str] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self._alert = alert
        self._redact = redact or (lambda text: text)
        self._sleep = sleep
        self.counts: Counter[tuple[str, str]] = Counter()
        """Runs this process recorded, by (job, result): /metrics reads them."""
        self.last: dict[str, str] = {}
        """The latest result this process recorded, by job: /healthz reads it."""

    async def run(self, job: Job, tick: datetime, *, manual: bool = False) -> RunReport | None:
        """Run `tick` of `job` if this instance gets it; None when another instance has it."""
        claim = await self.store.claim(job.name, tick, bound=job.bound(), manual=manual)
        if claim is None:
            return None
        if claim.busy is not None:
            self._count(job.name, SKIPPED)
            log.debug("job %s: %s", job.name, self.store.busy(claim.busy))
            return RunReport(claim.run_id, job.name, SKIPPED, 0, error=self.store.busy(claim.busy))
        log.debug("job %s: started (%s)", job.name, "manual run" if manual else f"tick {tick}")
        try:
            end = await self._tries(job)
        except asyncio.CancelledError:
            cut = Finished(FAILED, 1, error=CUT_OFF)
            await asyncio.shield(self.store.finish(job.name, claim.run_id, cut))
            self._count(job.name, FAILED)
            raise
        await self.store.finish(job.name, claim.run_id, end)
        self._count(job.name, end.result)
        await self._tell(job, claim.run_id, end)
        return RunReport(claim.run_id, job.name, end.result, end.attempts, end.output, end.error)

    def _count(self, job: str, result: str) -> None:
        self.counts[(job, result)] += 1
        self.last[job] = result

    # ------------------------------------------------------------------ attempts

    async def _tries(self, job: Job) -> Finished:
        attempt = 1
        while True:
            tried = await self._try(job, attempt)
            if tried.end.result in FAILURES and tried.retry and attempt < job.attempts:
                delay = job.retry.delay_for(attempt)
                log.warning(
                    "job %s: attempt %d of %d %s (%s); again in %g s",
                    job.name,
                    attempt,
                    job.attempts,
                    tried.end.result,
                    tried.end.error,
                    delay,
                )
                await self._sleep(delay)
                attempt += 1
                continue
            return tried.end

    async def _try(self, job: Job, attempt: int) -> _Try:
        scope = asyncio.timeout(job.timeout)
        try:
            async with scope:
                result = await job.body()
        except TimeoutError as exc:
            if not scope.expired():
                return self._failed(job, attempt, exc)
            error = f"no end within {job.timeout:g} s (attempt {attempt} of {job.attempts})"
            return _Try(Finished(TIMEOUT, attempt, error=error), job.idempotent)
        except Exception as exc:
            return self._failed(job, attempt, exc)
        return _Try(self._done(result, attempt), retry=False)

    def _failed(self, job: Job, attempt: int, exc: Exception) -> _Try:
        if isinstance(exc, JobFailed):
            text, retry = str(exc), job.idempotent or exc.nothing_done
        else:
            text, retry = f"{type(exc).__name__}: {exc}", job.idempotent
            log.debug("job %s raised", job.name, exc_info=True)
        error = self._redact(_one_line(text))
        return _Try(Finished(FAILED, attempt, error=error), retry)

    def _done(self, result: JobResult, attempt: int) -> Finished:
        return Finished(
            SKIPPED if result.skipped else OK,
            attempt,
            output=self._redact(result.summary),
            counts=result.counts,
        )

    # ------------------------------------------------------------------ telling

    async def _tell(self, job: Job, run_id: int, end: Finished) -> None:
        """The first failure of a streak, and the ok run that ends one, go to staff (and the
        log); the runs between are in the history and at DEBUG in the log, so a job failing
        every two minutes for a day writes two lines, not seven hundred."""
        before = None
        if end.result != SKIPPED:
            before = await self.store.previous_decided(job.name, run_id)
        if end.result in FAILURES and before not in FAILURES:
            await self._say(logging.ERROR, f"job {job.name} {_said(end.result)}: {end.error}")
        elif end.result == OK and before in FAILURES:
            await self._say(logging.INFO, f"job {job.name} works again: {end.output or 'ok'}")
        else:
            log.debug("job %s: %s: %s", job.name, end.result, end.error or end.output or "-")

    async def _say(self, level: int, text: str) -> None:
        """To the alert path (which logs it), or to the log when there is none."""
        if self._alert is not None:
            await self._alert(text)
        else:
            log.log(level, "%s", text)


def _said(result: str) -> str:
    return "timed out" if result == TIMEOUT else "failed"
