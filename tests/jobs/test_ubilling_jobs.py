"""Ubilling's crontab as pbxbridge jobs, against the fake Ubilling over real HTTP: the root's
own table (pbxbridge/job_table.py), the backend's one HTTP session, the history."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr

from billing_client.breaker import BreakerState
from billing_client.ubilling import UbillingBackend
from jobs.defaults import UBILLING
from jobs.job import Job
from jobs.runner import JobRunner
from jobs.scheduler import Scheduler
from jobs.store import RunRow, RunStore
from pbxbridge.app import Core, open_core
from pbxbridge.cli.sms import queue_only_outbox
from pbxbridge.job_table import build_jobs
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.fakes.ubilling import PHP_FATAL_ERROR, SERIAL, CallRecord, FakeUbilling, Fault
from tests.jobs.rig import VirtualTime, kyiv, settled

NOW = kyiv(2026, 11, 22, 12, 0)


@asynccontextmanager
async def ubilling_core(
    database: Database, clock: FixedClock, url: str, **settings: Any
) -> AsyncIterator[Core]:
    values = Settings(
        database={"url": database.url},
        billing={"backend": "ubilling", "url": url, "key": SecretStr(SERIAL)},
        **settings,
    )
    async with open_core(values, clock=clock) as core:
        yield core


class Told:
    def __init__(self) -> None:
        self.alerts: list[str] = []

    async def __call__(self, text: str) -> None:
        self.alerts.append(text)


def table(core: Core) -> dict[str, Job]:
    return {j.name: j for j in build_jobs(core, queue_only_outbox(core))}


def runner_of(core: Core, told: Told, waits: list[float] | None = None) -> JobRunner:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return JobRunner(RunStore(core.sessions, core.clock, "test-1"), alert=told, sleep=sleep)


async def history(core: Core, job: str) -> list[RunRow]:
    return await RunStore(core.sessions, core.clock, "x").history(job)


def asked(fake: FakeUbilling, action: str) -> list[dict[str, str]]:
    """The query of every request for `action` (the key left out)."""
    found = []
    for raw in fake.requests:
        query = dict(parse_qsl(raw, keep_blank_values=True))
        if query.get("action") == action:
            query.pop("key", None)
            found.append(query)
    return found


async def test_the_default_table_is_the_minimum_crontab_plus_telephony(
    sqlite_database: Database,
) -> None:
    clock = FixedClock(NOW)
    async with ubilling_core(sqlite_database, clock, "http://127.0.0.1:9/") as core:
        jobs = table(core)
    crontab = [
        ("vserviceschargefee", "40 1 1 * *", "vserviceschargefee"),
        ("swping", "*/20 * * * *", "swping"),
        ("fastping", "*/10 * * * *", "fastping"),
        ("fullhostscan", "5 * * * *", "fullhostscan&param=traffdiff&nn=1"),
        ("swpoll", "0 */1 * * *", "swpoll"),
        ("watchdog", "*/10 * * * *", "watchdog"),
        ("senddog", "*/5 * * * *", "senddog"),
        ("backupdb", "1 1 * * *", "backupdb"),
        ("rebuildglscache", "3 * * * *", "rebuildglscache"),
        ("dealwithit", "10 2 * * *", "dealwithit"),
        ("exhorse", "50 23 * * *", "exhorse"),
        ("nasmon", "*/10 * * * *", "nasmon"),
        ("mtsigmonpoll", "*/30 * * * *", "mtsigmonpoll"),
        ("autocleandb", "10 10 1 * *", "autocleandb"),
        ("fdbarchive", "10 */1 * * *", "fdbarchive"),
        ("oltpoll", "*/10 * * * *", "oltpoll"),
        ("cachedog", "*/20 * * * *", "cachedog"),
        ("multigen", "*/2 * * * *", "multigen"),
        ("feesharvester", "10 0 * * *", "feesharvester"),
        ("whydoyoucall", "*/5 * * * *", "whydoyoucall"),
        ("whydoyoucallstats", "55 23 * * *", "whydoyoucallstats"),
        ("callshistusrupd", "15 * * * *", "callshistusrupd"),
    ]
    assert [(j.name, j.schedule.expression, j.action) for j in jobs.values() if j.action] == (
        crontab
    )
    assert all(j.enabled for j in jobs.values() if j.action)
    assert [d.name for d in UBILLING] == [name for name, _, _ in crontab]
    assert not jobs["vserviceschargefee"].idempotent
    # pbxbridge's own housekeeping runs with either billing; the embedded billing's do not.
    assert {"missed_stats", "retention", "db_backup"} <= set(jobs)
    assert "charge_fee" not in jobs


async def test_every_crontab_job_runs_against_ubilling(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    told = Told()
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        jobs = table(core)
        runner = runner_of(core, told)
        for name in (d.name for d in UBILLING):
            report = await runner.run(jobs[name], NOW)
            assert report is not None
            assert report.result == "ok", (name, report)
        assert [fake.ran(d.name) for d in UBILLING] == [1] * len(UBILLING)
        assert asked(fake, "fullhostscan") == [
            {"module": "remoteapi", "action": "fullhostscan", "param": "traffdiff", "nn": "1"}
        ]
        assert asked(fake, "vserviceschargefee") == [
            {"module": "remoteapi", "action": "vserviceschargefee"}
        ]
        (swpoll,) = await history(core, "swpoll")
        assert swpoll.output == "Ubilling answered 'OK:SWPOLL'"
        (senddog,) = await history(core, "senddog")
        assert senddog.output == "Ubilling answered 'OK:SENDDOG SMS `0` TLG `0` EML `0`'"
        assert fake.state.wdycinfo == ["2026-11-22"]
    assert told.alerts == []


@pytest.mark.parametrize(
    ("job", "make_it_fail", "error"),
    [
        (
            "fastping",
            lambda fake: setattr(fake.config, "fastping_enabled", False),
            "fastping: Ubilling refused (a module off in alter.ini, or nothing to work on): "
            "'ERROR:FASTPING_DISABLED'",
        ),
        (
            "whydoyoucall",
            lambda fake: setattr(fake.config, "wdyc_enabled", False),
            "whydoyoucall: Ubilling refused (a module off in alter.ini, or nothing to work on): "
            "'ERROR: WDYC DISABLED'",
        ),
        (
            "swping",  # REMOTEAPI_DISABLE_CALLS=swping: no handler, the web UI answers
            lambda fake: setattr(fake.config, "disabled_calls", frozenset({"swping"})),
            "swping: Ubilling answered its HTML login page (no key, or an action this Ubilling "
            'does not have): \'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"',
        ),
        (
            "nasmon",
            lambda fake: fake.add_fault(Fault(body=PHP_FATAL_ERROR, when={"action": "nasmon"})),
            'nasmon: Ubilling answered a PHP error: "<br /> <b>Fatal error</b>: Uncaught '
            "mysqli_sql_exception: Access denied for user 'asterisk'@'localhost'",
        ),
        (
            "backupdb",
            lambda fake: setattr(fake.config, "mysqldump_path", ""),
            "backupdb: Ubilling answered something unexpected: "
            "'You missed an important option: MYSQLDUMP_PATH'",
        ),
        (
            "multigen",
            lambda fake: fake.add_fault(Fault(body="", when={"action": "multigen"})),
            "multigen: Ubilling answered nothing (PHP died before the action's last word?)",
        ),
    ],
    ids=["error", "wdyc-off", "login-page", "php-error", "backupdb-unset", "empty"],
)
async def test_a_failing_answer_is_recorded_quoted_and_told_once(
    sqlite_database: Database,
    caplog: pytest.LogCaptureFixture,
    job: str,
    make_it_fail: Any,
    error: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FixedClock(NOW)
    told = Told()
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        make_it_fail(fake)
        jobs = table(core)
        runner = runner_of(core, told)
        for minute in range(3):
            await runner.run(jobs[job], kyiv(2026, 11, 22, 12, minute))
        runs = await history(core, job)
    assert [r.result for r in runs] == ["failed"] * 3
    assert runs[0].error.startswith(error), runs[0].error
    assert len(runs[0].error) <= len(job) + 100 + 200
    assert told.alerts == [f"job {job} failed: {runs[0].error}"]  # once for the streak
    assert SERIAL not in caplog.text
    assert "key=***" in caplog.text  # the request was logged, its key hidden
    assert all(SERIAL not in r.error + r.output for r in runs)


async def test_an_answer_echoing_the_key_is_quoted_without_it(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        fake.add_fault(Fault(body=f"ERROR: no such key {SERIAL}", when={"action": "swpoll"}))
        await runner_of(core, Told()).run(table(core)["swpoll"], NOW)
        (run,) = await history(core, "swpoll")
    assert run.error.endswith("'ERROR: no such key ***'")


async def test_ubillings_own_lock_is_a_skipped_run(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    told = Told()
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        fake.state.running.add("SWPOLL_ALL")
        report = await runner_of(core, told).run(table(core)["swpoll"], NOW)
    assert report is not None
    assert (report.result, report.attempts) == ("skipped", 1)
    assert report.output == "Ubilling answered 'SKIP:SWPOLL_ALREADY_RUNNING'"
    assert told.alerts == []


async def test_callshistusrupd_guesses_and_counts(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        fake.state.callshist += [
            CallRecord(1, "2026-11-22 09:00:00", "0501110002", ""),  # testuser2's number
            CallRecord(2, "2026-11-22 09:05:00", "0679999999", ""),  # nobody's
        ]
        await runner_of(core, Told()).run(table(core)["callshistusrupd"], NOW)
        (run,) = await history(core, "callshistusrupd")
        assert fake.state.callshist[0].login == "testuser2"
    assert run.output == "Ubilling answered 'GUESSED:1 MISSED:1 OK:CALLSHIST_USERS_UPDATE'"
    assert run.counts == {"guessed": 1, "missed": 1}


async def test_the_fee_charge_is_never_retried_once_it_may_have_run(
    sqlite_database: Database,
) -> None:
    clock = FixedClock(kyiv(2026, 12, 1, 1, 40))
    waits: list[float] = []
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(
            sqlite_database,
            clock,
            fake.url,
            jobs=[{"name": "vserviceschargefee", "attempts": 3}],
        ) as core,
    ):
        fake.state.vservices["testuser1"] = [("IPTV", Decimal(30), "30")]
        # Ubilling charges, then the connection drops before the answer.
        fake.add_fault(Fault(drop=True, when={"action": "vserviceschargefee"}, times=1))
        report = await runner_of(core, Told(), waits).run(
            table(core)["vserviceschargefee"], clock.now()
        )
        assert report is not None
        assert (report.result, report.attempts) == ("failed", 1)
        assert fake.ran("vserviceschargefee") == 1
        assert fake.state.users["testuser1"].cash == Decimal(120)  # charged once, not 3 times
    assert waits == []


async def test_an_action_that_never_left_is_retried(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    waits: list[float] = []
    async with ubilling_core(
        sqlite_database,
        clock,
        "http://127.0.0.1:9/",  # nothing listens: the request certainly did not reach Ubilling
        jobs=[{"name": "vserviceschargefee", "attempts": 3, "retry_delay": 5}],
    ) as core:
        report = await runner_of(core, Told(), waits).run(table(core)["vserviceschargefee"], NOW)
    assert report is not None
    assert (report.result, report.attempts) == ("failed", 3)
    assert "cannot connect to Ubilling" in report.error
    assert waits == [5.0, 10.0]


async def test_failing_actions_leave_the_calls_breaker_alone(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        fake.add_fault(Fault(status=500, when={"action": "swpoll"}))
        runner = runner_of(core, Told())
        for minute in range(5):
            report = await runner.run(table(core)["swpoll"], kyiv(2026, 11, 22, 12, minute))
            assert report is not None
            assert report.result == "failed"
            assert report.error == "swpoll: Ubilling answered HTTP 500"
        backend = core.billing.backend
        assert isinstance(backend, UbillingBackend)
        assert backend.breaker.state is BreakerState.CLOSED
        lookup = await core.billing.by_number("0501110001")
        assert lookup.subscriber is not None
        assert lookup.subscriber.login == "testuser1"


async def test_jobs_are_turned_off_moved_and_added_in_config(sqlite_database: Database) -> None:
    clock = FixedClock(NOW)
    entries = [
        {"name": "fastping", "enabled": False},
        {"name": "swping", "schedule": "*/30 * * * *"},
        {
            "name": "vservices_weekly",
            "schedule": "40 1 * * 1",
            "action": "vserviceschargefee&period=7",
        },
    ]
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url, jobs=entries) as core,
    ):
        jobs = table(core)
        assert not jobs["fastping"].enabled
        assert jobs["fastping"].off_because == "[[jobs]] enabled = false"
        assert jobs["swping"].schedule.expression == "*/30 * * * *"
        weekly = jobs["vservices_weekly"]
        assert (weekly.enabled, weekly.idempotent) == (True, False)
        services = [("IPTV", Decimal(30), "30"), ("Phone", Decimal(7), "7")]
        fake.state.vservices["testuser1"] = services
        await runner_of(core, Told()).run(weekly, NOW)
        assert asked(fake, "vserviceschargefee") == [
            {"module": "remoteapi", "action": "vserviceschargefee", "period": "7"}
        ]
        assert fake.state.users["testuser1"].cash == Decimal(143)  # only the weekly service


async def test_an_hour_of_the_crontab_in_the_scheduler(sqlite_database: Database) -> None:
    """The default table scheduled for an hour of virtual time: each action asked as often
    as its crontab line says, and the loop's wake-ups counted."""
    clock = FixedClock(kyiv(2026, 11, 22, 11, 59, 30))
    time = VirtualTime(clock)
    async with (
        FakeUbilling(clock=clock) as fake,
        ubilling_core(sqlite_database, clock, fake.url) as core,
    ):
        scheduler = Scheduler(
            build_jobs(core, queue_only_outbox(core)),
            runner_of(core, Told()),
            clock,
            sleep=time.sleep,
        )
        await scheduler.start()
        try:
            await time.run_until(kyiv(2026, 11, 22, 12, 59, 59), settled(scheduler))
        finally:
            await scheduler.stop()
    per_hour = {
        "multigen": 30,
        "senddog": 12,
        "whydoyoucall": 12,
        "fastping": 6,
        "watchdog": 6,
        "nasmon": 6,
        "oltpoll": 6,
        "swping": 3,
        "cachedog": 3,
        "mtsigmonpoll": 2,
        "swpoll": 1,
        "fullhostscan": 1,
        "rebuildglscache": 1,
        "fdbarchive": 1,
        "callshistusrupd": 1,
        "vserviceschargefee": 0,
        "backupdb": 0,
    }
    assert {name: fake.ran(name) for name in per_hour} == per_hour
    # One wake-up per minute that has a tick (the 30 even ones; :03; :05, :15 … :55), and
    # the first pass at start: the loop's whole idle cost.
    minutes = {m for m in range(60) if m % 2 == 0 or m in {3, 5, 15, 25, 35, 45, 55}}
    assert scheduler.wakeups == len(minutes) + 1
