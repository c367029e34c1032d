"""What the scheduler's tests share: virtual time, jobs made of scripted bodies, and the run
history read back from the real database.

`VirtualTime` is the sleep of one or more schedulers' loops: each sleep waits until the
test passes time, and `run_until` moves the FixedClock from one wake-up to the next (never
past the target), letting the runs started at each instant finish first. No real second
passes; days of schedule take milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from jobs.cron import CronSchedule
from jobs.errors import JobFailed
from jobs.job import Job
from jobs.runner import JobRunner
from jobs.scheduler import Scheduler
from jobs.store import RunRow, RunStore
from primitives.backoff import Backoff
from primitives.clock import FixedClock
from primitives.job_result import JobResult
from tests.conftest import Database

KYIV = ZoneInfo("Europe/Kyiv")
WITHIN = 10.0
"""Seconds a test waits for the loop to reach a point (never a sleep that must pass)."""


def kyiv(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A local Kyiv wall time as a UTC instant (a repeated hour: its first time)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=KYIV).astimezone(UTC)


def local(instant: datetime) -> str:
    return instant.astimezone(KYIV).strftime("%Y-%m-%d %H:%M %Z")


class VirtualTime:
    def __init__(self, clock: FixedClock, sleepers: int = 1) -> None:
        self.clock = clock
        self.sleepers = sleepers
        self.asked: list[float] = []
        self._sleeping: list[tuple[datetime, asyncio.Future[None]]] = []
        self._changed = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        entry = (
            self.clock.instant + timedelta(seconds=seconds),
            asyncio.get_running_loop().create_future(),
        )
        self._sleeping.append(entry)
        self._changed.set()
        try:
            await entry[1]
        finally:
            if entry in self._sleeping:
                self._sleeping.remove(entry)

    async def _all_asleep(self) -> None:
        async with asyncio.timeout(WITHIN):
            while len(self._sleeping) < self.sleepers:
                self._changed.clear()
                await self._changed.wait()

    async def run_until(
        self, target: datetime, settle: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Pass time up to `target`: at each wake-up the clock moves there, the sleepers
        due wake, and (after they have all gone back to sleep) `settle` waits for what they
        started."""
        while True:
            await self._all_asleep()
            if settle is not None:
                await settle()
            earliest = min(wake for wake, _ in self._sleeping)
            if earliest > target:
                self.clock.instant = max(self.clock.instant, target)
                return
            self.clock.instant = max(self.clock.instant, earliest)
            for entry in list(self._sleeping):
                if entry[0] <= self.clock.instant:
                    self._sleeping.remove(entry)
                    entry[1].set_result(None)
            await asyncio.sleep(0)


def task_name(job: str, tick: datetime) -> str:
    """The name of the task running `tick` of `job` (jobs.scheduler names them so)."""
    return f"job {job} {tick.isoformat()}"


def settled(
    *schedulers: Scheduler,
    leave: Iterable[str] = (),
    parked: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[], Awaitable[None]]:
    """Waits until the runs the schedulers started have ended, but the tasks named in
    `leave` (runs a test holds on purpose): for those, until `parked` says they wait."""
    skip = set(leave)

    async def wait() -> None:
        async with asyncio.timeout(WITHIN):
            held = [t for s in schedulers for t in s.in_flight() if t.get_name() in skip]
            if held and parked is not None:
                await parked()
            while True:
                tasks = {t for s in schedulers for t in s.in_flight() if t.get_name() not in skip}
                if not tasks:
                    return
                await asyncio.wait(tasks)

    return wait


@dataclass
class Body:
    """A job body from a script: each call takes the next answer (a JobResult, an exception
    to raise, or an Event to wait for first); the last answer repeats."""

    clock: FixedClock
    answers: list[JobResult | Exception | asyncio.Event] = field(
        default_factory=lambda: [JobResult("done")]
    )
    calls: list[datetime] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    waiting: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def parked(self) -> None:
        """Until a call waits on its Event."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.waiting > 0)

    async def __call__(self) -> JobResult:
        self.calls.append(self.clock.now())
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
            if isinstance(answer, asyncio.Event):
                async with self._changed:
                    self.waiting += 1
                    self._changed.notify_all()
                try:
                    await answer.wait()
                finally:
                    self.waiting -= 1
                return JobResult("waited, then done")
            if isinstance(answer, Exception):
                raise answer
            return answer
        finally:
            self.running -= 1


def job(
    name: str,
    schedule: str,
    body: Callable[[], Awaitable[JobResult]],
    *,
    timeout: float = 60.0,
    attempts: int = 1,
    idempotent: bool = True,
    retry: Backoff | None = None,
) -> Job:
    return Job(
        name=name,
        schedule=CronSchedule(schedule, KYIV),
        body=body,
        timeout=timeout,
        attempts=attempts,
        retry=retry or Backoff(60.0, 900.0),
        idempotent=idempotent,
    )


class Failing(JobFailed):
    pass


@dataclass
class Rig:
    database: Database
    clock: FixedClock
    alerts: list[str] = field(default_factory=list)
    retry_waits: list[float] = field(default_factory=list)

    async def alert(self, text: str) -> None:
        self.alerts.append(text)

    async def retry_sleep(self, seconds: float) -> None:
        """The runner's wait between tries: recorded, and the clock moves by it."""
        self.retry_waits.append(seconds)
        self.clock.instant += timedelta(seconds=seconds)

    def store(self, instance: str = "test-1") -> RunStore:
        return RunStore(self.database.sessions, self.clock, instance)

    def runner(self, instance: str = "test-1") -> JobRunner:
        return JobRunner(
            self.store(instance), alert=self.alert, sleep=self.retry_sleep, redact=None
        )

    def scheduler(
        self,
        jobs: list[Job],
        time: VirtualTime,
        *,
        instance: str = "test-1",
        stale_after: int = 3,
    ) -> Scheduler:
        return Scheduler(
            jobs,
            self.runner(instance),
            self.clock,
            alert=self.alert,
            stale_after=stale_after,
            sleep=time.sleep,
        )

    async def runs(self, name: str | None = None) -> list[RunRow]:
        """The history, oldest first."""
        rows = await self.store().history(name, limit=10_000)
        return sorted(rows, key=lambda r: (r.started_at, r.id))
