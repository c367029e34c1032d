"""LockoutGuard on a real database: racing failures, the lock notice, listing and lifting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.lockout import LockEvent, LockoutGuard
from agi.models import Lockout, LockoutFailure
from billing_client.audit import AuditJournal
from billing_client.outcomes import MoneySource
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory
from tests.conftest import Database
from tests.schema import schema_drift

pytestmark = pytest.mark.timeout(60)

NUMBER = "+380501110002"
STAFF = MoneySource(kind="cli", user="cli:admin")


class Heard:
    """The root's side of `on_lock`: keeps every event."""

    def __init__(self) -> None:
        self.events: list[LockEvent] = []

    async def __call__(self, event: LockEvent) -> None:
        self.events.append(event)


@dataclass
class Rig:
    """Two guards on two engines (two processes) telling one `on_lock`; the journal."""

    one: LockoutGuard
    two: LockoutGuard
    heard: Heard
    journal: AuditJournal


@pytest.fixture
async def rig(database: Database, clock: FixedClock) -> AsyncIterator[Rig]:
    other = create_engine(DatabaseSettings(url=database.url))
    heard = Heard()
    journal = AuditJournal(database.sessions, "local", clock)

    def guard(sessions: async_sessionmaker[AsyncSession]) -> LockoutGuard:
        return LockoutGuard(
            sessions,
            clock,
            failures=3,
            window=3600,
            on_lock=heard,
            audit=AuditJournal(sessions, "local", clock),
        )

    try:
        yield Rig(guard(database.sessions), guard(session_factory(other)), heard, journal)
    finally:
        await other.dispose()


async def failure_counts(database: Database) -> dict[str, int]:
    async with database.sessions() as s:
        rows = await s.execute(
            select(LockoutFailure.subject, func.count()).group_by(LockoutFailure.subject)
        )
        return dict(rows.all())


async def test_migrations_build_the_models_tables(database: Database) -> None:
    assert await schema_drift(database, LockoutFailure, Lockout) == []


async def test_racing_failures_count_once_each_and_lock_once(database: Database, rig: Rig) -> None:
    one, two = rig.one, rig.two
    racers = 24
    results = await asyncio.gather(
        *((one if i % 2 else two).record_failure(NUMBER, "debtor", "USED") for i in range(racers))
    )
    assert await failure_counts(database) == {f"number:{NUMBER}": racers, "login:debtor": racers}
    # Racing transactions may not see each other's uncommitted failures, so the lock can
    # come a few failures late (each call checked the lock before it tried a card anyway),
    # but it comes, and only once.
    assert True in results
    assert await one.record_failure(NUMBER, "debtor", "USED")
    assert await one.locked_until(NUMBER, None) is not None
    assert await two.locked_until(None, "debtor") is not None
    events = rig.heard.events
    assert [(e.number, e.login) for e in events] == [(NUMBER, "debtor")]
    assert events[0].failures >= 3
    assert events[0].reason == "USED"


async def test_many_rounds_of_two_racers_never_fail_on_a_duplicate_lock(
    database: Database, clock: FixedClock, rig: Rig
) -> None:
    """Each round both racers reach the limit at once and both try to write the lock."""
    one, two = rig.one, rig.two
    for round_ in range(25):
        login = f"user{round_}"
        await one.record_failure(None, login, "INVALID")
        await one.record_failure(None, login, "INVALID")
        locked = await asyncio.gather(
            one.record_failure(None, login, "INVALID"),
            two.record_failure(None, login, "INVALID"),
        )
        assert list(locked) == [True, True]
    events = rig.heard.events
    assert sorted(e.login or "" for e in events) == sorted(f"user{i}" for i in range(25))
    assert await failure_counts(database) == {f"login:user{i}": 4 for i in range(25)}


async def test_an_expired_lock_is_renewed_and_announced_again(clock: FixedClock, rig: Rig) -> None:
    guard = rig.one
    for _ in range(3):
        await guard.record_failure(NUMBER, "debtor", "pin")
    first = await guard.locked_until(NUMBER, "debtor")
    clock.instant += timedelta(hours=1, seconds=1)
    assert await guard.locked_until(NUMBER, "debtor") is None
    for _ in range(2):
        assert not await guard.record_failure(NUMBER, "debtor", "pin")
    assert await guard.record_failure(NUMBER, "debtor", "pin")
    second = await guard.locked_until(NUMBER, "debtor")
    assert first is not None
    assert second is not None
    assert second - first == timedelta(hours=1, seconds=1)
    assert len(rig.heard.events) == 2


async def test_a_failing_notice_does_not_fail_the_call(
    database: Database, clock: FixedClock
) -> None:
    async def broken(event: LockEvent) -> None:
        raise RuntimeError("telegram is down")

    guard = LockoutGuard(database.sessions, clock, failures=1, on_lock=broken)
    assert await guard.record_failure(NUMBER, "debtor", "USED")
    assert await guard.locked_until(NUMBER, None) is not None


async def test_entries_show_locks_and_counts_in_local_time(clock: FixedClock, rig: Rig) -> None:
    guard = rig.one
    for _ in range(3):
        await guard.record_failure(NUMBER, "debtor", "USED")
    await guard.record_failure("+380671110009", "other", "pin")
    entries = await guard.entries()
    shown = [
        (
            e.kind,
            e.value,
            e.failures,
            e.locked_until.isoformat() if e.locked_until else None,
            e.last_failure.isoformat() if e.last_failure else None,
        )
        for e in entries
    ]
    # 10:00 UTC is 12:00 in Kyiv (EET, +02:00); the lock lasts an hour.
    assert shown == [
        ("number", NUMBER, 3, "2026-11-22T13:00:00+02:00", "2026-11-22T12:00:00+02:00"),
        ("login", "debtor", 3, "2026-11-22T13:00:00+02:00", "2026-11-22T12:00:00+02:00"),
        ("number", "+380671110009", 1, None, "2026-11-22T12:00:00+02:00"),
        ("login", "other", 1, None, "2026-11-22T12:00:00+02:00"),
    ]


@pytest.mark.parametrize("named", ["number", "login"])
async def test_clearing_either_lifts_both_forgets_failures_and_is_audited(
    database: Database, rig: Rig, named: str
) -> None:
    guard = rig.one
    for _ in range(3):
        await guard.record_failure(NUMBER, "debtor", "USED")
    await guard.record_failure("+380671110009", "other", "pin")
    number, login = (NUMBER, None) if named == "number" else (None, "debtor")
    cleared = await guard.clear(number, login, source=STAFF)
    assert cleared.subjects == (("number", NUMBER), ("login", "debtor"))
    assert (cleared.locks, cleared.failures) == (2, 3)
    assert await guard.locked_until(NUMBER, "debtor") is None
    assert await failure_counts(database) == {
        "number:+380671110009": 1,
        "login:other": 1,
    }
    # The counts start again from zero: two more failures do not lock.
    assert not await guard.record_failure(NUMBER, "debtor", "USED")
    assert not await guard.record_failure(NUMBER, "debtor", "USED")
    (record,) = await rig.journal.records()
    assert (record.kind, record.login, record.field) == ("unlock", "debtor", "lockout")
    assert record.amount == 0
    assert record.source == "cli user cli:admin"
    assert record.detail == (
        f"lockout lifted: number {NUMBER} and login debtor: "
        "2 lock(s) lifted, 3 failure(s) forgotten"
    )


async def test_clearing_what_is_not_locked_changes_nothing_and_is_not_audited(
    database: Database, rig: Rig
) -> None:
    guard = rig.one
    cleared = await guard.clear(NUMBER, "nobody", source=STAFF)
    assert cleared.subjects == ()
    assert cleared.describe() == "nothing was locked or counted"
    assert await rig.journal.records() == []
