"""The scheduler's idle cost: a day of each default job table in virtual time.

    .venv/bin/python bench/scheduler_bench.py [--hours 24]

For each billing backend the default table (the embedded billing's jobs with pbxbridge's
housekeeping; Ubilling's crontab with it) is scheduled on a fresh migrated SQLite database
with job bodies that do nothing, so what is measured is the scheduler alone: how often its
loop wakes (a wake-up with nothing due is the idle cost), how many runs it claims and
records, and the CPU time both take. The clock is a FixedClock the loop's sleep moves: no
real minute passes.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from billing_client.ubilling.actions import ActionAnswer, ActionOutcome
from jobs.defaults import default_table
from jobs.runner import JobRunner
from jobs.scheduler import Scheduler
from jobs.store import RunStore
from jobs.table import build_table
from pbxbridge import migrations
from primitives.clock import FixedClock
from primitives.job_result import JobResult
from storage import DatabaseSettings, create_engine, session_factory

START = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)  # midnight in Kyiv


async def nothing() -> JobResult:
    return JobResult("nothing")


class InstantUbilling:
    """Answers every action OK at once (no HTTP: the scheduler's cost alone)."""

    async def periodic_action(
        self, action: str, params: Sequence[tuple[str, str]] = ()
    ) -> ActionAnswer:
        return ActionAnswer(action, ActionOutcome.OK, "OK")


async def day(backend: str, hours: int, folder: Path) -> None:
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{folder / backend}.db"))
    await migrations.upgrade(engine)
    sessions = session_factory(engine)
    clock = FixedClock(START)
    end = START + timedelta(hours=hours)
    bodies = {d.name: nothing for d in default_table(backend) if d.action is None}
    jobs = build_table([], backend, ZoneInfo("Europe/Kyiv"), bodies, actions=InstantUbilling())
    runner = JobRunner(RunStore(sessions, clock, "bench"))
    finished = asyncio.Event()
    scheduler: Scheduler | None = None

    async def sleep(seconds: float) -> None:
        assert scheduler is not None
        running = scheduler.in_flight()
        if running:
            await asyncio.wait(running)
        if clock.instant + timedelta(seconds=seconds) > end:
            finished.set()
            await asyncio.Event().wait()  # until stopped
        clock.instant += timedelta(seconds=seconds)

    scheduler = Scheduler(jobs, runner, clock, sleep=sleep)
    cpu, wall = time.process_time(), time.perf_counter()
    await scheduler.start()
    await finished.wait()
    await scheduler.stop()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    runs = sum(runner.counts.values())
    history = await runner.store.history(limit=1_000_000)
    busy = len({r.tick for r in history})
    empty = scheduler.wakeups - busy
    await engine.dispose()
    print(
        f"{backend:9} {hours} h: {scheduler.wakeups} wake-ups ({scheduler.wakeups / hours:.1f}/h; "
        f"{empty} with nothing due), {runs} runs recorded ({runs / hours:.1f}/h); "
        f"CPU {cpu:.2f} s ({cpu / max(runs, 1) * 1000:.2f} ms per run, claim + record), "
        f"wall {wall:.2f} s"
    )


async def main(hours: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("local", "ubilling"):
            await day(backend, hours, Path(folder))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    asyncio.run(main(parser.parse_args().hours))
