"""A failing billing or database never loses a missed call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.errors import BillingUnavailable
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.outcomes import Lookup
from call_log.models import CallRow
from missed_calls import MissedCall, MissedCallSettings, MissedCallTracker
from missed_calls.store import MissedCallStore
from missed_calls.tracker import WRITE_RETRIES
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    MISSED_DIRECT,
    MakeTracker,
    Seen,
    capture_messages,
    feed,
    inbound_call,
)


class FlakyBackend(LocalBackend):
    """The embedded billing, made to fail on lookups as the test says."""

    def __init__(self, db: Database, clock: FixedClock) -> None:
        super().__init__(db.sessions, clock, AuditJournal(db.sessions, "local", clock))
        self.mode = "down"
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.asked = 0

    async def lookup_number(self, number: str) -> Lookup:
        self.asked += 1
        if self.mode == "down":
            raise BillingUnavailable("Ubilling unreachable (breaker open)")
        if self.mode == "crash":
            raise RuntimeError("a bug in a backend")
        if self.mode == "hang":
            self.entered.set()
            await self.release.wait()
        return await super().lookup_number(number)


@pytest.fixture
async def flaky(db: Database, clock: FixedClock, admin: LocalAdmin) -> FlakyBackend:
    await admin.add("olena", name="Олена", phones=("0671234567",), actor="test")
    return FlakyBackend(db, clock)


def client(backend: FlakyBackend) -> BillingClient:
    return BillingClient(backend, PhoneNormaliser("UA"))


async def test_billing_down_keeps_the_call_and_names_it_later(
    make_tracker: MakeTracker, flaky: FlakyBackend
) -> None:
    seen = Seen()
    tracker = make_tracker(billing=client(flaky), on_missed=seen)
    await feed(tracker, capture_messages())
    # both recorded and announced, without a subscriber
    assert [(c.login, c.lookup) for c in seen.calls] == [(None, "pending"), (None, "pending")]
    flaky.mode = "up"
    calls = {c.linkedid: c for c in await tracker.list()}
    assert (calls[MISSED_DIRECT].login, calls[MISSED_DIRECT].lookup) == ("olena", "ok")
    assert {c.lookup for c in calls.values()} == {"ok", "notfound"}


@pytest.mark.parametrize("mode", ["crash", "hang"])
async def test_a_hanging_or_broken_billing_does_not_lose_the_call(
    make_tracker: MakeTracker, flaky: FlakyBackend, mode: str
) -> None:
    flaky.mode = mode
    seen = Seen()
    tracker = make_tracker(billing=client(flaky), on_missed=seen, lookup_timeout=0.2)
    await feed(tracker, capture_messages())
    assert len(seen.calls) == 2
    assert all(c.login is None and c.lookup == "pending" for c in seen.calls)
    assert len(await tracker.list()) == 2


async def test_the_call_is_committed_before_the_billing_is_asked(
    make_tracker: MakeTracker, flaky: FlakyBackend, db: Database
) -> None:
    """The row is in the database while the lookup still hangs: a kill -9 at that moment
    loses nothing; the next process names the subscriber."""
    flaky.mode = "hang"
    tracker = make_tracker(billing=client(flaky), lookup_timeout=30)
    for message in capture_messages():
        await tracker.on_ami_event(message)
    flushing = asyncio.create_task(tracker.flush())
    await asyncio.wait_for(flaky.entered.wait(), 5)
    async with db.sessions() as session:
        rows = (await session.scalars(select(CallRow))).all()
    assert {r.linkedid: r.lookup for r in rows}[MISSED_DIRECT] == "pending"
    # "restart": a new process with a working billing
    flaky.mode = "up"
    restarted = make_tracker(billing=client(flaky))
    calls = {c.linkedid: c for c in await restarted.list()}
    assert calls[MISSED_DIRECT].login == "olena"
    flaky.release.set()
    await flushing


async def rename(db: Database, old: str, new: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


TABLE = "calls"


def tracker_with(
    db: Database,
    clock: FixedClock,
    billing: BillingClient,
    *,
    alert: Callable[[str], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]],
) -> MissedCallTracker:
    return MissedCallTracker(
        db.sessions, clock, billing, MissedCallSettings(), alert=alert, sleep=sleep
    )


async def test_a_database_hiccup_is_retried(
    db: Database, clock: FixedClock, billing: BillingClient
) -> None:
    """The table is away at the first attempt and back before the retry: nothing lost,
    nobody alerted."""
    await rename(db, TABLE, "missed_calls_away")
    pauses: list[float] = []
    alerts: list[str] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 1:
            await rename(db, "missed_calls_away", TABLE)

    async def alert(message: str) -> None:
        alerts.append(message)

    async with tracker_with(db, clock, billing, alert=alert, sleep=sleep) as tracker:
        await feed(tracker, capture_messages())
        assert len(await tracker.list()) == 2
    assert pauses == [WRITE_RETRIES[0]]
    assert alerts == []


async def test_a_missed_call_the_database_keeps_refusing_is_lost_and_staff_told(
    db: Database, clock: FixedClock, billing: BillingClient, caplog: pytest.LogCaptureFixture
) -> None:
    await rename(db, TABLE, "missed_calls_away")
    pauses: list[float] = []
    alerts: list[str] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    async def alert(message: str) -> None:
        alerts.append(message)

    async with tracker_with(db, clock, billing, alert=alert, sleep=sleep) as tracker:
        await feed(tracker, capture_messages())
    # the capture's three calls (two missed, one answered) are each retried; staff hear
    # of the two missed ones, the answered one is logged
    assert pauses == [*WRITE_RETRIES] * 3
    assert len(alerts) == 2, alerts
    direct, queue = alerts
    assert direct.startswith("missed calls: LOST the missed call from +380671234567 at 2026-11-22 ")
    assert f"(queue -, linkedid {MISSED_DIRECT}): the database failed 4 times: " in direct
    assert f"linkedid {ABANDONED_QUEUE}" in queue
    assert "+380501112233" in queue
    assert "(queue support," in queue
    assert all("[SQL" not in a and "\n" not in a for a in alerts)
    assert caplog.text.count("LOST missed call") == 2
    assert caplog.text.count("call log: LOST call") == 1
    await rename(db, "missed_calls_away", TABLE)
    assert await MissedCallStore(db.sessions, clock).list(clock.today()) == []


async def test_a_failing_on_missed_callback_changes_nothing(
    make_tracker: MakeTracker, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(call: MissedCall) -> None:
        raise RuntimeError("telegram is down")

    tracker = make_tracker(on_missed=broken)
    await feed(tracker, capture_messages())
    assert len(await tracker.list()) == 2
    assert "on_missed failed" in caplog.text


async def test_a_subscriber_found_by_a_later_call_fills_older_pending_ones(
    make_tracker: MakeTracker,
    flaky: FlakyBackend,
    admin: LocalAdmin,
    clock: FixedClock,
    db: Database,
) -> None:
    await admin.add("petro", phones=("0501112233",), balance=Decimal(10), actor="test")
    tracker = make_tracker(billing=client(flaky))
    await feed(tracker, capture_messages())
    flaky.mode = "up"
    # the next missed call's lookup works, and sweeps up the pending ones (no list() asked)
    await feed(tracker, inbound_call("7.1", "0441234567"))
    store = MissedCallStore(db.sessions, clock)
    calls = {c.linkedid: c for c in await store.list(clock.today())}
    assert calls[MISSED_DIRECT].login == "olena"
    assert calls[ABANDONED_QUEUE].login == "petro"
    assert calls["7.1"].lookup == "notfound"
