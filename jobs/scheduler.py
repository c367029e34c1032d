"""The scheduler: one background loop (primitives.worker) that starts each job on its ticks.

Each pass looks at the clock, starts every job whose next tick has come (each tick in a
task of its own, so a slow job holds up no other) and sleeps until the earliest next tick,
at most `MAX_WAIT` (so a wall clock set right, or a machine back from suspend, is noticed
within minutes). A job's run is claimed in the database first (jobs/store.py): among
instances sharing it, a tick runs once, and a job never runs alongside itself.

At start each job's next tick is worked out from its history: a job whose latest claimed
tick is older than its latest due tick missed ticks while the service was down, and runs
once now (not once per missed tick); a job never run before starts with its next tick.

After each of its ticks a job is checked for having stopped working: no successful run
ended within its last `stale_after` scheduled intervals while its runs were not failing
(failures are told as they happen) means its runs are all skipped or none happen (a lock
left by a dead instance, a run that never ends, Ubilling's own lock stuck): one alert,
until a successful run again.

Time is injected: `clock` gives the wall time ticks are computed on, `sleep` does every
wait (the worker's and the retries'), so tests drive days of schedule in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jobs.job import Job
from jobs.models import FAILURES
from jobs.runner import Alert, JobRunner, Sleep
from primitives.backoff import Backoff
from primitives.clock import Clock
from primitives.health import Health
from primitives.worker import Worker

log = logging.getLogger("pbxbridge.jobs")

MAX_WAIT = 300.0
"""The longest the loop sleeps without looking at the wall clock again."""
STOP_WITHIN = 10.0
"""Seconds the jobs running at stop get to finish before they are cut off (and recorded)."""
CATCH_UP_COUNT = 100
"""Missed ticks counted for the log line after downtime (past this: "100 or more")."""


@dataclass
class _Slot:
    """A scheduled job and what the loop knows of it."""

    job: Job
    next_due: datetime
    stale: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Scheduler:
    name = "scheduler"

    def __init__(
        self,
        jobs: Sequence[Job],
        runner: JobRunner,
        clock: Clock,
        *,
        alert: Alert | None = None,
        stale_after: int = 3,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = list(jobs)
        self.runner = runner
        self._clock = clock
        self._alert = alert
        self._stale_after = stale_after
        self._slots: list[_Slot] = []
        self._started_at: datetime | None = None
        self._worker = Worker(
            "scheduler",
            self._step,
            log=log,
            retry=Backoff(1.0, MAX_WAIT),
            sleep=sleep,
            monotonic=monotonic,
        )
        self.wakeups = 0
        """Passes of the loop since start (its idle cost)."""
        self._troubled = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        now = self._clock.now()
        self._started_at = now
        swept = await self.runner.store.sweep()
        if swept:
            log.warning("jobs: %d run(s) left by a stopped instance recorded as interrupted", swept)
        self._slots = [
            _Slot(job, await self._first_due(job, now)) for job in self.jobs if job.enabled
        ]
        self._worker.start()
        log.info(
            "scheduler started: %d job(s) scheduled, %d off",
            len(self._slots),
            len(self.jobs) - len(self._slots),
        )

    async def stop(self, within: float = STOP_WITHIN) -> None:
        await self._worker.stop(0)
        running = self.in_flight()
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=within)
        for task in late:
            task.cancel()
        if late:
            log.warning("jobs cut off at stop: %d run(s) recorded as failed", len(late))
            await asyncio.gather(*late, return_exceptions=True)

    async def _first_due(self, job: Job, now: datetime) -> datetime:
        """Now, when ticks were missed since the job's latest claimed one; else its next."""
        last = await self.runner.store.last_scheduled_tick(job.name)
        due = job.schedule.latest_at_or_before(now)
        if last is None or due <= last:
            return job.schedule.next_after(now)
        log.warning(
            "job %s: %s tick(s) missed since %s: running once now",
            job.name,
            self._missed(job, last, due),
            self._clock.local(last).strftime("%Y-%m-%d %H:%M %Z"),
        )
        return due

    @staticmethod
    def _missed(job: Job, last: datetime, due: datetime) -> str:
        count, tick = 0, last
        while count < CATCH_UP_COUNT:
            tick = job.schedule.next_after(tick)
            if tick > due:
                return str(count)
            count += 1
        return f"{CATCH_UP_COUNT} or more"

    # ------------------------------------------------------------------ the loop

    async def _step(self) -> float:
        self.wakeups += 1
        now = self._clock.now()
        for slot in self._slots:
            if slot.next_due <= now:
                tick = slot.job.schedule.latest_at_or_before(now)
                slot.next_due = slot.job.schedule.next_after(now)
                self._spawn(slot, tick)
        if not self._slots:
            return MAX_WAIT
        wait = (min(s.next_due for s in self._slots) - now).total_seconds()
        return min(max(wait, 0.0), MAX_WAIT)

    def _spawn(self, slot: _Slot, tick: datetime) -> None:
        name = f"job {slot.job.name} {tick.isoformat()}"
        task = asyncio.create_task(self._tick(slot, tick), name=name)
        slot.tasks.add(task)
        task.add_done_callback(slot.tasks.discard)

    async def _tick(self, slot: _Slot, tick: datetime) -> None:
        try:
            await self.runner.run(slot.job, tick)
            await self._check_stale(slot)
        except Exception as exc:
            await self._trouble(slot.job, tick, exc)
        else:
            if self._troubled:
                self._troubled = False
                log.info("jobs are claimed and recorded again")

    async def _trouble(self, job: Job, tick: datetime, exc: Exception) -> None:
        """A tick that could not be claimed or recorded (the database away): the first of
        a streak is logged with its traceback and told; the rest only at DEBUG."""
        if self._troubled:
            log.debug("job %s: tick %s not run either: %s", job.name, tick, exc)
            return
        self._troubled = True
        log.exception("job %s: its tick %s could not be run or recorded", job.name, tick)
        if self._alert is not None:
            await self._alert(
                f"scheduled jobs cannot be claimed or recorded ({type(exc).__name__}): "
                f"job {job.name} did not run"
            )

    async def _check_stale(self, slot: _Slot) -> None:
        job, now = slot.job, self._clock.now()
        since = job.schedule.ticks_back(now, self._stale_after)
        last_ok = await self.runner.store.last_ok_end(job.name)
        if last_ok is not None and last_ok >= since:
            slot.stale = False
            return
        started = self._started_at or now
        if slot.stale or started > since or self.runner.last.get(job.name) in FAILURES:
            return
        slot.stale = True
        when = self._clock.local(last_ok).strftime("%Y-%m-%d %H:%M %Z") if last_ok else "never"
        message = (
            f"job {job.name} has stopped working: no successful run in its last "
            f"{self._stale_after} scheduled runs ({job.schedule.expression}); last success: {when}"
        )
        if self._alert is not None:
            await self._alert(message)  # which logs it
        else:
            log.error("%s", message)

    # ------------------------------------------------------------------ state

    def in_flight(self) -> set[asyncio.Task[None]]:
        """The ticks being run now (a task each)."""
        return {task for slot in self._slots for task in slot.tasks}

    def next_runs(self) -> dict[str, datetime]:
        """The next tick of each scheduled job."""
        return {slot.job.name: slot.next_due for slot in self._slots}

    async def health(self) -> Health:
        if self._started_at is None:
            return Health.ok("not started")
        if not self._worker.running:
            return Health.down("the scheduler's loop is not running")
        failing = sorted(
            s.job.name for s in self._slots if self.runner.last.get(s.job.name) in FAILURES
        )
        stale = sorted(s.job.name for s in self._slots if s.stale)
        problems = []
        if failing:
            problems.append(f"failing: {', '.join(failing)}")
        if stale:
            problems.append(f"stopped working: {', '.join(stale)}")
        if problems:
            return Health.degraded("; ".join(problems))
        return Health.ok(f"{len(self._slots)} job(s) scheduled")
