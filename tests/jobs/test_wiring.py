"""The jobs as the root wires them (pbxbridge/job_table.py, Service.parts()): the embedded
billing's jobs on their ticks, the history pruned by retention, what is off and why, and a
failing job reaching staff on Telegram."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from jobs.models import JobRun
from jobs.runner import JobRunner
from jobs.scheduler import Scheduler
from jobs.store import RunStore
from pbxbridge.app import Service, open_core
from pbxbridge.cli.sms import queue_only_outbox
from pbxbridge.job_table import build_jobs, off_by_default
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram
from tests.fakes.ubilling import SERIAL, FakeUbilling
from tests.jobs.rig import VirtualTime, kyiv, local, settled
from tests.pbxbridge.test_alerts import running, told_before_the_marker


def local_settings(database: Database, **values: Any) -> Settings:
    return Settings(database={"url": database.url}, **values)


async def test_the_embedded_billings_jobs_run_on_their_ticks(database: Database) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 23, 59))
    time = VirtualTime(clock)
    async with open_core(local_settings(database), clock=clock) as core:
        assert core.local is not None
        await core.local.add("ivan", name="Ivan", phones=["0501110001"], fee=Decimal(300),
                             tariff="Home", actor="test")  # fmt: skip
        runner = JobRunner(RunStore(core.sessions, clock, "pbx-1"), alert=core.alerts)
        scheduler = Scheduler(
            build_jobs(core, queue_only_outbox(core)), runner, clock, sleep=time.sleep
        )
        await scheduler.start()
        try:
            await time.run_until(kyiv(2026, 11, 23, 0, 6), settled(scheduler))
        finally:
            await scheduler.stop()
        history = await runner.store.history(limit=50)
        info = await core.local.get("ivan")
        assert info is not None
    ran = sorted((local(r.tick), r.job, r.result) for r in history)
    assert ran == [
        ("2026-11-23 00:00 EET", "autofreeze", "ok"),
        ("2026-11-23 00:01 EET", "end_credits", "ok"),
        ("2026-11-23 00:05 EET", "charge_fee", "ok"),
    ]
    (fee,) = [r for r in history if r.job == "charge_fee"]
    assert fee.output == (
        "daily fee for 2026-11-23: charged 1 subscriber-day(s), 10.00 in all; 0 already charged"
    )
    assert fee.counts == {
        "charged": 1,
        "already_charged": 0,
        "kopecks": 1000,
        "days": 1,
        "days_missed": 0,
    }
    assert info.balance == Decimal("-10.00")


async def test_retention_prunes_old_job_history_but_never_a_run_going_on(
    database: Database,
) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 4, 30))
    settings = local_settings(database, retention={"job_history_days": 30})
    async with open_core(settings, clock=clock) as core:
        old = clock.now() - timedelta(days=31)
        async with core.sessions.begin() as session:
            for n, result in enumerate(("ok", "failed", "running")):
                await session.execute(
                    insert(JobRun).values(
                        job="swping",
                        tick=old + timedelta(minutes=n),
                        manual=False,
                        instance="old",
                        started_at=old + timedelta(minutes=n),
                        result=result,
                        attempts=1,
                        output="",
                        counts="",
                        error="",
                    )
                )
        jobs = {j.name: j for j in build_jobs(core, queue_only_outbox(core))}
        runner = JobRunner(RunStore(core.sessions, clock, "pbx-1"))
        report = await runner.run(jobs["retention"], clock.now())
        assert report is not None
        left = await runner.store.history("swping")
    assert report.result == "ok"
    assert "jobs_runs 2" in report.output
    assert [r.result for r in left] == ["running"]


async def test_what_is_off_by_default_and_why(database: Database) -> None:
    settings = local_settings(database)
    off = off_by_default(settings)
    assert off["reminders"] == "billing.reminders.enabled = false"
    if database.kind == "postgres":
        assert off["db_backup"] == "PostgreSQL: use the server's own backups"
    else:
        assert "db_backup" not in off
    on = local_settings(
        database,
        billing={"reminders": {"enabled": True}},
        jobs=[{"name": "debtors_campaign", "enabled": True}],
    )
    clock = FixedClock(kyiv(2026, 11, 22, 12))
    async with open_core(on, clock=clock) as core:
        jobs = {j.name: j for j in build_jobs(core, queue_only_outbox(core))}
    assert jobs["reminders"].enabled
    assert jobs["debtors_campaign"].enabled


async def test_the_service_runs_the_scheduler_as_a_part(
    sqlite_database: Database, tmp_path: Path
) -> None:
    (tmp_path / "spool" / "outgoing").mkdir(parents=True)
    clock = FixedClock(kyiv(2026, 11, 22, 12))
    base: dict[str, Any] = {
        "database": {"url": sqlite_database.url},
        "agi": {"port": 0},
        "http": {"enabled": False},
        "ami": {"enabled": False},
        "spool": {"dir": tmp_path / "spool"},
    }
    async with open_core(Settings(**base), clock=clock) as core:
        service = Service(core)
        assert service.scheduler is not None
        assert "scheduler" in [p.name for p in service.parts() if p.component is not None]
        await service.start()
        try:
            assert (await service.scheduler.health()).status.value == "ok"
            assert service.scheduler.next_runs()["charge_fee"] == kyiv(2026, 11, 23, 0, 5)
        finally:
            await service.stop()
    off = Settings(**base, scheduler={"enabled": False})
    async with open_core(off, clock=clock) as core:
        service = Service(core)
        assert service.scheduler is None
        assert "scheduler" not in [p.name for p in service.parts() if p.component is not None]


async def test_a_failing_job_reaches_staff_on_telegram_without_the_key(
    sqlite_database: Database, tmp_path: Path
) -> None:
    clock = FixedClock(kyiv(2026, 11, 22, 12))
    async with (
        FakeTelegram() as telegram,
        FakeUbilling(clock=clock) as ubilling,
        running(sqlite_database, clock, tmp_path, telegram, ubilling) as service,
    ):
        ubilling.config.fastping_enabled = False
        scheduler = service.scheduler
        assert scheduler is not None
        fastping = next(j for j in scheduler.jobs if j.name == "fastping")
        for minute in (0, 10, 20):
            await scheduler.runner.run(fastping, kyiv(2026, 11, 22, 12, minute))
        told = await told_before_the_marker(service, telegram)
    alerts = [t for t in told if "fastping" in t]
    assert alerts == [
        "ALERT: job fastping failed: fastping: Ubilling refused (a module off in alter.ini, "
        "or nothing to work on): 'ERROR:FASTPING_DISABLED'"
    ]
    assert all(SERIAL not in t for t in told)
