"""The scheduler's database side: claiming a tick, holding a job's lock, recording runs,
and reading the history back. Every claim on shared work lives here, in the database, so
instances sharing it agree without talking to each other (see jobs/models.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jobs.models import FAILED, FAILURES, OK, RUNNING, SKIPPED, JobLock, JobRun
from primitives.clock import Clock, as_utc
from storage.upsert import insert_for

TEXT_MAX = 500
"""Characters of output or error kept per run."""
_DECIDED = (OK, *sorted(FAILURES))
"""Results that start or end a failing streak (skips do neither)."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a job's lock: the run under way elsewhere (or here)."""

    run_id: int
    instance: str
    taken_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """A tick this instance owns: `busy` set when the job was already running (the run was
    then recorded as skipped, and is not to be run)."""

    run_id: int
    busy: Holder | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """How a run ended."""

    result: str
    attempts: int
    output: str = ""
    error: str = ""
    counts: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the CLI and health read it."""

    id: int
    job: str
    tick: datetime
    manual: bool
    instance: str
    started_at: datetime
    ended_at: datetime | None
    result: str
    attempts: int
    output: str
    error: str
    counts: dict[str, int]

    @property
    def seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (as_utc(self.ended_at) - as_utc(self.started_at)).total_seconds()


def _row(run: JobRun) -> RunRow:
    return RunRow(
        id=run.id,
        job=run.job,
        tick=as_utc(run.tick),
        manual=run.manual,
        instance=run.instance,
        started_at=as_utc(run.started_at),
        ended_at=as_utc(run.ended_at) if run.ended_at is not None else None,
        result=run.result,
        attempts=run.attempts,
        output=run.output,
        error=run.error,
        counts=json.loads(run.counts) if run.counts else {},
    )


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_MAX else flat[: TEXT_MAX - 1] + "…"


class RunStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, instance: str
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.instance = instance

    # ------------------------------------------------------------------ claims

    async def claim(
        self, job: str, tick: datetime, *, bound: float, manual: bool = False
    ) -> Claim | None:
        """Own `tick` of `job` and take the job's lock, in one transaction. None: another
        instance owns the tick. A Claim with `busy`: the job was running (recorded skipped)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            inserted = await session.execute(
                insert_for(session, JobRun)
                .values(
                    job=job,
                    tick=tick,
                    manual=manual,
                    instance=self.instance,
                    started_at=now,
                    result=RUNNING,
                    attempts=0,
                    output="",
                    counts="",
                    error="",
                )
                .on_conflict_do_nothing(index_elements=["job", "tick"])
                .returning(JobRun.id)
            )
            run_id = inserted.scalar_one_or_none()
            if run_id is None:
                return None
            holder = await self._lock(session, job, run_id, now, now + timedelta(seconds=bound))
            if holder is not None:
                await session.execute(
                    update(JobRun)
                    .where(JobRun.id == run_id)
                    .values(result=SKIPPED, ended_at=now, error=_cut(self.busy(holder)))
                )
            return Claim(run_id, holder)

    async def _lock(
        self, session: AsyncSession, job: str, run_id: int, now: datetime, until: datetime
    ) -> Holder | None:
        """Take the job's lock for `run_id`; the holder when someone else has it. An expired
        lock is taken over and the run it belonged to recorded as interrupted."""
        for _ in range(2):  # the holder may let go between our insert and our look
            taken = await session.execute(
                insert_for(session, JobLock)
                .values(
                    job=job, run_id=run_id, instance=self.instance, taken_at=now, expires_at=until
                )
                .on_conflict_do_nothing(index_elements=["job"])
                .returning(JobLock.job)
            )
            if taken.scalar_one_or_none() is not None:
                return None
            lock = await session.scalar(select(JobLock).where(JobLock.job == job).with_for_update())
            if lock is None:
                continue
            if as_utc(lock.expires_at) > now:
                return Holder(
                    lock.run_id, lock.instance, as_utc(lock.taken_at), as_utc(lock.expires_at)
                )
            await self._interrupted(session, lock, now)
            lock.run_id, lock.instance, lock.taken_at, lock.expires_at = (
                run_id,
                self.instance,
                now,
                until,
            )
            return None
        return Holder(0, "?", now, now)  # taken and let go twice in a row: call it busy

    async def _interrupted(self, session: AsyncSession, lock: JobLock, now: datetime) -> None:
        await session.execute(
            update(JobRun)
            .where(JobRun.id == lock.run_id, JobRun.result == RUNNING)
            .values(
                result=FAILED,
                ended_at=now,
                error=_cut(
                    f"interrupted: {lock.instance} stopped during the run (its lock expired "
                    f"{self._local(lock.expires_at)})"
                ),
            )
        )

    async def finish(self, job: str, run_id: int, end: Finished) -> None:
        """Record how the run ended and let go of the job's lock, in one transaction."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(JobRun)
                .where(JobRun.id == run_id, JobRun.result == RUNNING)
                .values(
                    result=end.result,
                    ended_at=now,
                    attempts=end.attempts,
                    output=_cut(end.output),
                    error=_cut(end.error),
                    counts=json.dumps(dict(end.counts or {}), sort_keys=True),
                )
            )
            await session.execute(
                delete(JobLock).where(JobLock.job == job, JobLock.run_id == run_id)
            )

    async def sweep(self) -> int:
        """Locks past their expiry (an instance died during a run) are removed and their
        runs recorded as interrupted; how many."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            stale = (
                await session.scalars(
                    select(JobLock).where(JobLock.expires_at < now).with_for_update()
                )
            ).all()
            for lock in stale:
                await self._interrupted(session, lock, now)
                await session.delete(lock)
        return len(stale)

    # ------------------------------------------------------------------ reading

    async def last_scheduled_tick(self, job: str) -> datetime | None:
        """The latest tick of `job` any instance claimed (catch-up starts after it)."""
        async with self._sessions() as session:
            tick = await session.scalar(
                select(func.max(JobRun.tick)).where(JobRun.job == job, JobRun.manual.is_(False))
            )
        return as_utc(tick) if tick is not None else None

    async def last_ok_end(self, job: str) -> datetime | None:
        """When the latest successful run of `job` ended (any instance, manual runs too)."""
        async with self._sessions() as session:
            ended = await session.scalar(
                select(func.max(JobRun.ended_at)).where(JobRun.job == job, JobRun.result == OK)
            )
        return as_utc(ended) if ended is not None else None

    async def previous_decided(self, job: str, before_run: int) -> str | None:
        """The result of the latest run before `before_run` that was ok, failed or timed out
        (skips neither start nor end a failing streak)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(JobRun.result)
                .where(JobRun.job == job, JobRun.id != before_run, JobRun.result.in_(_DECIDED))
                .order_by(JobRun.started_at.desc(), JobRun.id.desc())
                .limit(1)
            )

    async def latest(self, jobs: Sequence[str]) -> dict[str, RunRow]:
        """The latest run of each of `jobs` that has one."""
        found: dict[str, RunRow] = {}
        async with self._sessions() as session:
            for job in jobs:
                run = await session.scalar(
                    select(JobRun)
                    .where(JobRun.job == job)
                    .order_by(JobRun.started_at.desc(), JobRun.id.desc())
                    .limit(1)
                )
                if run is not None:
                    found[job] = _row(run)
        return found

    async def history(self, job: str | None = None, *, limit: int = 20) -> list[RunRow]:
        """Runs, newest first (of one job, or of all)."""
        query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
        if job is not None:
            query = query.where(JobRun.job == job)
        async with self._sessions() as session:
            return [_row(run) for run in (await session.scalars(query)).all()]

    def busy(self, holder: Holder) -> str:
        """Why a run was skipped: the job's earlier run still going."""
        return (
            f"not run: still running since {self._local(holder.taken_at)} on "
            f"{holder.instance} (run {holder.run_id})"
        )

    def _local(self, instant: datetime) -> str:
        return self._clock.local(instant).strftime("%Y-%m-%d %H:%M:%S %Z")

    async def holder(self, job: str) -> Holder | None:
        async with self._sessions() as session:
            lock = await session.get(JobLock, job)
        if lock is None:
            return None
        return Holder(lock.run_id, lock.instance, as_utc(lock.taken_at), as_utc(lock.expires_at))
