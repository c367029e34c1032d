"""The scheduler on a real database (SQLite and PostgreSQL), driven through virtual time."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import insert, text

from jobs.models import JobLock, JobRun
from jobs.scheduler import Scheduler
from primitives.backoff import Backoff
from primitives.clock import FixedClock
from primitives.health import HealthStatus
from primitives.job_result import JobResult
from tests.conftest import Database
from tests.jobs.rig import (
    Body,
    Failing,
    Rig,
    VirtualTime,
    job,
    kyiv,
    local,
    settled,
    task_name,
)


async def run_through(scheduler: Scheduler, time: VirtualTime, until: object) -> None:
    await scheduler.start()
    try:
        await time.run_until(until, settled(scheduler))  # type: ignore[arg-type]
    finally:
        await scheduler.stop()


async def test_a_job_runs_on_its_ticks_and_each_run_is_recorded(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig, time = Rig(database, clock), VirtualTime(clock)
    body = Body(clock, [JobResult("did 3 things", {"things": 3})])
    scheduler = rig.scheduler([job("tidy", "*/2 * * * *", body)], time, instance="pbx-1:42")
    await run_through(scheduler, time, kyiv(2026, 11, 22, 12, 5))

    assert [local(c) for c in body.calls] == [
        "2026-11-22 12:00 EET",
        "2026-11-22 12:02 EET",
        "2026-11-22 12:04 EET",
    ]
    runs = await rig.runs("tidy")
    assert [(local(r.tick), r.result, r.attempts) for r in runs] == [
        ("2026-11-22 12:00 EET", "ok", 1),
        ("2026-11-22 12:02 EET", "ok", 1),
        ("2026-11-22 12:04 EET", "ok", 1),
    ]
    first = runs[0]
    assert first.output == "did 3 things"
    assert first.counts == {"things": 3}
    assert first.instance == "pbx-1:42"
    assert not first.manual
    assert first.ended_at is not None
    assert rig.alerts == []
    assert scheduler.runner.counts[("tidy", "ok")] == 3


async def test_a_0330_job_runs_once_on_both_switch_days_and_hourly_every_real_hour(
    sqlite_database: Database,
) -> None:
    for first, last, expected in (
        (
            kyiv(2027, 3, 27, 12),
            kyiv(2027, 3, 29, 12),
            ["2027-03-28 04:00 EEST", "2027-03-29 03:30 EEST"],
        ),
        (
            kyiv(2027, 10, 30, 12),
            kyiv(2027, 11, 1, 12),
            ["2027-10-31 03:30 EEST", "2027-11-01 03:30 EET"],
        ),
    ):
        clock = FixedClock(first)
        rig, time = Rig(sqlite_database, clock), VirtualTime(clock)
        night = Body(clock)
        hourly = Body(clock)
        name = f"night{first.month}"
        jobs = [job(name, "30 3 * * *", night), job(f"hourly{first.month}", "0 * * * *", hourly)]
        await run_through(rig.scheduler(jobs, time), time, last)

        assert [local(c) for c in night.calls] == expected
        assert [local(r.tick) for r in await rig.runs(name)] == expected
        gaps = {b - a for a, b in pairwise(hourly.calls)}
        assert gaps == {timedelta(hours=1)}
        # Two local days from noon to noon: 47 real hours in spring, 49 in autumn.
        assert len(hourly.calls) == (last - first) // timedelta(hours=1)
        assert len(hourly.calls) == (47 if first.month == 3 else 49)


async def test_a_0230_job_on_the_spring_day(sqlite_database: Database) -> None:
    clock = FixedClock(kyiv(2027, 3, 27, 12))
    rig, time = Rig(sqlite_database, clock), VirtualTime(clock)
    body = Body(clock)
    await run_through(
        rig.scheduler([job("early", "30 2 * * *", body)], time), time, kyiv(2027, 3, 29, 12)
    )
    assert [local(c) for c in body.calls] == ["2027-03-28 02:30 EET", "2027-03-29 02:30 EEST"]


async def test_a_slow_job_is_not_started_again_on_its_next_tick(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig, time = Rig(database, clock), VirtualTime(clock)
    release = asyncio.Event()
    body = Body(clock, [release, JobResult("quick")])
    scheduler = rig.scheduler([job("slow", "*/2 * * * *", body, timeout=600)], time)
    held = task_name("slow", kyiv(2026, 11, 22, 12, 0))
    await scheduler.start()
    try:
        await time.run_until(
            kyiv(2026, 11, 22, 12, 3), settled(scheduler, leave=[held], parked=body.parked)
        )
        runs = await rig.runs("slow")
        assert [(local(r.tick), r.result, r.attempts) for r in runs] == [
            ("2026-11-22 12:00 EET", "running", 0),
            ("2026-11-22 12:02 EET", "skipped", 0),
        ]
        assert runs[1].error == (
            f"not run: still running since 2026-11-22 12:00:00 EET on test-1 (run {runs[0].id})"
        )
        release.set()
        await settled(scheduler)()
        await time.run_until(kyiv(2026, 11, 22, 12, 5), settled(scheduler))
    finally:
        await scheduler.stop()
    assert [local(c) for c in body.calls] == ["2026-11-22 12:00 EET", "2026-11-22 12:04 EET"]
    assert body.most_at_once == 1
    runs = await rig.runs("slow")
    assert [(r.result, r.attempts) for r in runs] == [("ok", 1), ("skipped", 0), ("ok", 1)]
    assert rig.alerts == []  # a skip is not a failure


async def test_two_instances_on_one_database_run_each_tick_once(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig, time = Rig(database, clock), VirtualTime(clock, sleepers=2)
    body = Body(clock)
    a = rig.scheduler([job("shared", "*/2 * * * *", body)], time, instance="a")
    b = rig.scheduler([job("shared", "*/2 * * * *", body)], time, instance="b")
    await a.start()
    await b.start()
    try:
        await time.run_until(kyiv(2026, 11, 22, 12, 21), settled(a, b))
    finally:
        await a.stop()
        await b.stop()
    assert len(body.calls) == 11  # 12:00 … 12:20
    assert len(set(body.calls)) == 11
    runs = await rig.runs("shared")
    assert len(runs) == 11
    assert {r.result for r in runs} == {"ok"}
    assert {r.instance for r in runs} <= {"a", "b"}
    ran = a.runner.counts[("shared", "ok")] + b.runner.counts[("shared", "ok")]
    assert ran == 11


async def test_racing_claims_give_each_tick_to_one_instance(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12, 0))
    rig = Rig(database, clock)
    body = Body(clock)
    shared = job("race", "* * * * *", body)
    runners = [rig.runner(f"instance-{n}") for n in range(3)]
    for minute in range(10):
        tick = kyiv(2026, 11, 22, 12, minute)
        reports = await asyncio.gather(*(r.run(shared, tick) for r in runners))
        assert sum(1 for r in reports if r is not None) == 1
    assert len(body.calls) == 10
    assert len(await rig.runs("race")) == 10


async def test_after_downtime_missed_ticks_run_once_not_once_each(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig = Rig(database, clock)
    body = Body(clock)
    time = VirtualTime(clock)
    await run_through(
        rig.scheduler([job("poll", "*/10 * * * *", body)], time), time, kyiv(2026, 11, 22, 12, 11)
    )
    clock.instant = kyiv(2026, 11, 22, 12, 55)  # down from 12:11: 12:20 … 12:50 missed
    time = VirtualTime(clock)
    await run_through(
        rig.scheduler([job("poll", "*/10 * * * *", body)], time), time, kyiv(2026, 11, 22, 13, 1)
    )
    assert [local(c) for c in body.calls] == [
        "2026-11-22 12:00 EET",
        "2026-11-22 12:10 EET",
        "2026-11-22 12:55 EET",  # once, at start, for the latest missed tick
        "2026-11-22 13:00 EET",
    ]
    runs = await rig.runs("poll")
    assert [local(r.tick) for r in runs] == [
        "2026-11-22 12:00 EET",
        "2026-11-22 12:10 EET",
        "2026-11-22 12:50 EET",
        "2026-11-22 13:00 EET",
    ]


async def test_a_job_never_run_before_does_not_catch_up(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12, 5))
    rig, time = Rig(database, clock), VirtualTime(clock)
    body = Body(clock)
    other = Body(clock)
    scheduler = rig.scheduler(
        [job("fresh", "*/10 * * * *", body), job("other", "0 12 * * *", other)], time
    )
    await scheduler.start()
    try:
        await time.run_until(kyiv(2026, 11, 22, 12, 9, 59), settled(scheduler))
        assert body.calls == []
        assert other.calls == []  # its 12:00 passed before it ever ran: not run
        await time.run_until(kyiv(2026, 11, 22, 12, 11), settled(scheduler))
    finally:
        await scheduler.stop()
    assert [local(c) for c in body.calls] == ["2026-11-22 12:10 EET"]
    assert other.calls == []


async def test_an_attempt_past_its_timeout_is_cut_and_recorded(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12, 0))
    rig = Rig(database, clock)
    hang = job("hang", "* * * * *", Body(clock, [asyncio.Event()]), timeout=0.05)
    report = await rig.runner().run(hang, kyiv(2026, 11, 22, 12, 0))
    assert report is not None
    assert report.result == "timeout"
    (run,) = await rig.runs("hang")
    assert run.result == "timeout"
    assert run.error == "no end within 0.05 s (attempt 1 of 1)"
    assert rig.alerts == ["job hang timed out: no end within 0.05 s (attempt 1 of 1)"]


async def test_retries_wait_by_the_policy_and_only_when_safe(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12, 0))
    rig = Rig(database, clock)
    runner = rig.runner()
    tick = kyiv(2026, 11, 22, 12, 0)

    flaky = Body(clock, [Failing("down"), Failing("down"), JobResult("third time")])
    report = await runner.run(job("flaky", "* * * * *", flaky, attempts=3), tick)
    assert report is not None
    assert (report.result, report.attempts, report.output) == ("ok", 3, "third time")
    assert rig.retry_waits == [60.0, 120.0]  # Backoff(60, 900): doubling
    assert rig.alerts == []  # the run succeeded: no failure to tell

    rig.retry_waits.clear()
    capped = Body(clock, [Failing("down")])
    policy = Backoff(10, 15)
    report = await runner.run(job("capped", "* * * * *", capped, attempts=4, retry=policy), tick)
    assert report is not None
    assert (report.result, report.attempts) == ("failed", 4)
    assert rig.retry_waits == [10.0, 15.0, 15.0]

    # A job that must not run twice (a Ubilling fee charge): a failure that may have done
    # part of the work is not retried; one that certainly did nothing is.
    rig.retry_waits.clear()
    half = Body(clock, [RuntimeError("connection lost after sending"), JobResult("again")])
    report = await runner.run(job("fees", "* * * * *", half, attempts=3, idempotent=False), tick)
    assert report is not None
    assert (report.result, report.attempts) == ("failed", 1)
    assert report.error == "RuntimeError: connection lost after sending"
    assert len(half.calls) == 1
    refused = Body(clock, [Failing("refused before any work", nothing_done=True), JobResult("ok")])
    report = await runner.run(
        job("fees2", "* * * * *", refused, attempts=3, idempotent=False), tick
    )
    assert report is not None
    assert (report.result, report.attempts) == ("ok", 2)
    assert rig.retry_waits == [60.0]


async def test_failures_are_told_once_per_streak(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12, 0))
    rig = Rig(database, clock)
    answers: list[JobResult | Exception | asyncio.Event] = [
        JobResult("fine"),
        Failing("Ubilling answered ERROR:X"),
        RuntimeError("boom"),
        JobResult("quiet hours", skipped=True),  # a skip neither ends nor starts a streak
        Failing("Ubilling answered ERROR:X"),
        JobResult("fine again"),
        JobResult("fine"),
        Failing("Ubilling answered ERROR:Y"),
    ]
    body = Body(clock, answers)
    runner = rig.runner()
    flaky = job("flaky", "* * * * *", body)
    for minute in range(len(answers)):
        clock.instant = kyiv(2026, 11, 22, 12, minute)
        await runner.run(flaky, clock.instant)
    assert rig.alerts == [
        "job flaky failed: Ubilling answered ERROR:X",
        "job flaky works again: fine again",
        "job flaky failed: Ubilling answered ERROR:Y",
    ]
    results = [r.result for r in await rig.runs("flaky")]
    assert results == ["ok", "failed", "failed", "skipped", "failed", "ok", "ok", "failed"]


async def test_a_job_that_stopped_working_is_told_once(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig, time = Rig(database, clock), VirtualTime(clock)
    async with database.sessions.begin() as session:  # an instance died holding the job
        far = kyiv(2026, 11, 23)
        await session.execute(
            insert(JobRun).values(
                id=500,
                job="stuck",
                tick=kyiv(2026, 11, 22, 11, 0),
                manual=False,
                instance="dead:1",
                started_at=kyiv(2026, 11, 22, 11, 0),
                result="running",
                attempts=0,
                output="",
                counts="",
                error="",
            )
        )
        await session.execute(
            insert(JobLock).values(
                job="stuck",
                run_id=500,
                instance="dead:1",
                taken_at=kyiv(2026, 11, 22, 11, 0),
                expires_at=far,
            )
        )
    stuck = Body(clock)
    failing = Body(clock, [Failing("ERROR:FASTPING_DISABLED")])
    scheduler = rig.scheduler(
        [job("stuck", "*/10 * * * *", stuck), job("broken", "*/10 * * * *", failing)], time
    )
    await scheduler.start()
    try:
        await time.run_until(kyiv(2026, 11, 22, 12, 51), settled(scheduler))
        assert stuck.calls == []
        health = await scheduler.health()
        assert health.status is HealthStatus.DEGRADED
        assert health.reason == "failing: broken; stopped working: stuck"
        async with database.sessions.begin() as session:
            lock = await session.get(JobLock, "stuck")
            await session.delete(lock)
        await time.run_until(kyiv(2026, 11, 22, 13, 1), settled(scheduler))
    finally:
        await scheduler.stop()
    assert [local(c) for c in stuck.calls] == ["2026-11-22 13:00 EET"]
    assert rig.alerts == [
        "job broken failed: ERROR:FASTPING_DISABLED",  # told as it failed, not as stopped
        "job stuck has stopped working: no successful run in its last 3 scheduled runs "
        "(*/10 * * * *); last success: never",
    ]
    skipped = [r for r in await rig.runs("stuck") if r.result == "skipped"]
    # 11:50 (caught up at start: its last claimed tick was 11:00), then 12:00 … 12:50
    assert [local(r.tick)[11:] for r in skipped] == [
        f"{h}:{m}0 EET" for h, m in [(11, 5)] + [(12, n) for n in range(6)]
    ]
    assert {r.attempts for r in skipped} == {0}
    assert skipped[0].error == (
        "not run: still running since 2026-11-22 11:00:00 EET on dead:1 (run 500)"
    )


async def test_a_lock_left_by_a_dead_instance_is_taken_over_once_expired(
    database: Database,
) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12, 0))
    rig = Rig(database, clock)
    async with database.sessions.begin() as session:
        await session.execute(
            insert(JobRun).values(
                id=700,
                job="orphan",
                tick=kyiv(2026, 11, 22, 11, 0),
                manual=False,
                instance="dead:1",
                started_at=kyiv(2026, 11, 22, 11, 0),
                result="running",
                attempts=0,
                output="",
                counts="",
                error="",
            )
        )
        await session.execute(
            insert(JobLock).values(
                job="orphan",
                run_id=700,
                instance="dead:1",
                taken_at=kyiv(2026, 11, 22, 11, 0),
                expires_at=kyiv(2026, 11, 22, 11, 30),
            )
        )
    body = Body(clock)
    report = await rig.runner().run(job("orphan", "0 * * * *", body), kyiv(2026, 11, 22, 12))
    assert report is not None
    assert report.result == "ok"
    old, new = await rig.runs("orphan")
    assert old.result == "failed"
    assert old.error == (
        "interrupted: dead:1 stopped during the run (its lock expired 2026-11-22 11:30:00 EET)"
    )
    assert new.result == "ok"


async def test_runs_cut_off_at_stop_are_recorded(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig, time = Rig(database, clock), VirtualTime(clock)
    body = Body(clock, [asyncio.Event()])
    scheduler = rig.scheduler([job("long", "0 12 * * *", body, timeout=3600)], time)
    held = task_name("long", kyiv(2026, 11, 22, 12, 0))
    await scheduler.start()
    await time.run_until(
        kyiv(2026, 11, 22, 12, 1), settled(scheduler, leave=[held], parked=body.parked)
    )
    await scheduler.stop(within=0.01)
    (run,) = await rig.runs("long")
    assert (run.result, run.error) == ("failed", "cut off: the service stopped during the run")
    assert await rig.store().holder("long") is None  # the lock went with it


async def test_a_database_gone_away_is_told_once_not_per_tick(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "pbxbridge.jobs")
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59))
    rig, time = Rig(sqlite_database, clock), VirtualTime(clock)
    body = Body(clock)
    scheduler = rig.scheduler([job("tidy", "*/2 * * * *", body)], time)
    await scheduler.start()
    try:
        async with sqlite_database.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE jobs_runs RENAME TO jobs_runs_away"))
        await time.run_until(kyiv(2026, 11, 22, 12, 3), settled(scheduler))
        async with sqlite_database.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE jobs_runs_away RENAME TO jobs_runs"))
        await time.run_until(kyiv(2026, 11, 22, 12, 5), settled(scheduler))
    finally:
        await scheduler.stop()
    assert rig.alerts == [
        "scheduled jobs cannot be claimed or recorded (OperationalError): job tidy did not run"
    ]
    assert caplog.text.count("could not be run or recorded") == 1
    assert "claimed and recorded again" in caplog.text
    assert [local(c) for c in body.calls] == ["2026-11-22 12:04 EET"]
