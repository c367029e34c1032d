"""Job charge_fee at month ends, on DST days, across restarts and with two instances racing.

Instants are UTC with their Kyiv time beside them (UTC+2 in winter, UTC+3 in summer).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import delete

from billing_client.audit import AuditJournal
from billing_client.local.fees import charge_fee, day_fee_cents, days_to_charge, month_days
from billing_client.models import FeeDay
from billing_client.settings import BillingSettings
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory
from tests.billing_client.jobs_rig import D, Rig, make_rig, utc
from tests.conftest import Database

FEES = [1, 29, 47, 100, 450, 460, 9_999, 10_000, 15_050, 20_000, 99_999, 1_234_567]


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [(2027, 2, 28), (2028, 2, 29), (2027, 4, 30), (2027, 1, 31), (2027, 12, 31)],
)
@pytest.mark.parametrize("fee", FEES)
def test_a_month_of_daily_fees_sums_to_the_fee(year: int, month: int, days: int, fee: int) -> None:
    charges = [day_fee_cents(fee, date(year, month, d), "daily") for d in range(1, days + 1)]
    assert len(charges) == month_days(date(year, month, 1)) == days
    assert sum(charges) == fee
    assert min(charges) >= 0
    # every day but the last is the same, and within a kopeck of fee / days
    assert len(set(charges[:-1])) == 1
    assert abs(charges[0] - fee / days) < 1


def test_daily_fee_examples_worked_by_hand() -> None:
    # 100.00 over January (31 days): 3.2258 -> 3.23 a day, 30 x 3.23 = 96.90, the 31st 3.10
    assert day_fee_cents(10_000, date(2027, 1, 1), "daily") == 323
    assert day_fee_cents(10_000, date(2027, 1, 31), "daily") == 310
    # 100.00 over February 2027 (28): 3.5714 -> 3.57, 27 x 3.57 = 96.39, the 28th 3.61
    assert day_fee_cents(10_000, date(2027, 2, 27), "daily") == 357
    assert day_fee_cents(10_000, date(2027, 2, 28), "daily") == 361
    # February 2028 (29): 3.4483 -> 3.45, 28 x 3.45 = 96.60, the 29th 3.40
    assert day_fee_cents(10_000, date(2028, 2, 28), "daily") == 345
    assert day_fee_cents(10_000, date(2028, 2, 29), "daily") == 340
    # 0.47 over 31 days rounds to 0.02 a day, but 30 x 0.02 > 0.47: capped at 0.01, last 0.17
    assert day_fee_cents(47, date(2027, 1, 5), "daily") == 1
    assert day_fee_cents(47, date(2027, 1, 31), "daily") == 17
    assert day_fee_cents(0, date(2027, 1, 31), "daily") == 0


def test_monthly_fee_is_the_whole_fee_on_the_first() -> None:
    assert day_fee_cents(10_000, date(2027, 3, 1), "monthly") == 10_000
    assert [day_fee_cents(10_000, date(2027, 3, d), "monthly") for d in range(2, 32)] == [0] * 30


def test_days_to_charge() -> None:
    today = date(2027, 3, 1)
    assert days_to_charge(today, None, 7) == ([today], 0)
    assert days_to_charge(today, today, 7) == ([today], 0)
    assert days_to_charge(today, date(2027, 2, 27), 7) == (
        [date(2027, 2, 28), today],
        0,
    )
    # down since 10 February: 18 days missed, the last 3 charged, 16 left
    days, beyond = days_to_charge(today, date(2027, 2, 10), 3)
    assert days == [date(2027, 2, 26), date(2027, 2, 27), date(2027, 2, 28), today]
    assert beyond == 15
    assert days_to_charge(today, date(2027, 2, 10), 0) == ([today], 18)


async def run(rig: Rig, **kwargs: int) -> None:
    await charge_fee(rig.database.sessions, rig.clock, rig.settings, rig.audit, **kwargs)


async def assert_books_balance(rig: Rig, start: dict[str, int]) -> None:
    """The journal's fee entries are exactly the balance changes, and the charges table."""
    now = await rig.balances()
    fees = await rig.journal("fee")
    charged: dict[str, int] = {}
    for login, _day, cents in await rig.charges():
        charged[login] = charged.get(login, 0) + cents
    for login, before in start.items():
        assert now[login] - before == fees.get(login, 0) == -charged.get(login, 0), login


@pytest.mark.parametrize(
    ("year", "month"),
    [(2027, 2), (2028, 2), (2027, 4), (2027, 3), (2027, 10), (2027, 12)],
)
async def test_a_month_charged_day_by_day_sums_to_the_fee(
    database: Database, year: int, month: int
) -> None:
    """Run at 00:05 Kyiv every day of the month (and twice on some): each subscriber pays
    exactly the fee; March and October 2027 hold the DST switches."""
    first = date(year, month, 1)
    rig = make_rig(database, utc(year, month, 1, 0, 0) - timedelta(days=1))
    await rig.add("ivan", balance=D("50"), fee=D("100"))
    await rig.add("olena", fee=D("0.47"))
    await rig.add("taras", balance=D("1000"), fee=D("12345.67"))
    await rig.add("frozen", fee=D("100"), frozen=True)
    await rig.add("off", fee=D("100"), disabled=True)
    await rig.add("free", fee=D("0"))
    start = await rig.balances()
    for n in range(month_days(first)):
        day = first + timedelta(days=n)
        # 00:05 local: 22:05 or 21:05 UTC the day before
        rig.clock.instant = datetime.combine(day, time(0, 5), tzinfo=rig.clock.tz).astimezone(UTC)
        assert rig.clock.today() == day
        await run(rig)
        if n % 7 == 0:
            await run(rig)  # a manual run the same day: nothing more
    now = await rig.balances()
    assert start["ivan"] - now["ivan"] == 10_000
    assert start["olena"] - now["olena"] == 47
    assert start["taras"] - now["taras"] == 1_234_567
    for login in ("frozen", "off", "free"):
        assert now[login] == start[login]
    assert len(await rig.charges()) == 3 * month_days(first)
    await assert_books_balance(rig, start)


@pytest.mark.parametrize(
    "instants",
    [
        # spring: 28 March 2027, 00:30, 02:59, then 04:00 (03:00 never happens), 23:59 Kyiv
        [utc(2027, 3, 27, 22, 30), utc(2027, 3, 28, 0, 59), utc(2027, 3, 28, 1, 0),
         utc(2027, 3, 28, 20, 59)],
        # autumn: 31 October 2027, 03:30 Kyiv twice (summer time, then winter time), 23:59
        [utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 1, 30), utc(2027, 10, 31, 21, 59)],
    ],
)  # fmt: skip
async def test_dst_days_charge_once(database: Database, instants: list) -> None:  # type: ignore[type-arg]
    rig = make_rig(database, instants[0])
    await rig.add("ivan", fee=D("310"))
    day = rig.clock.today()
    for instant in instants:
        rig.clock.instant = instant
        assert rig.clock.today() == day
        await run(rig)
    assert await rig.charges() == [("ivan", day.isoformat(), 1000)]
    assert (await rig.balances())["ivan"] == -1000


async def test_new_year_eve_then_new_year(database: Database) -> None:
    """31 December 23:59 Kyiv charges December's remainder; one minute later is 1 January."""
    rig = make_rig(database, utc(2027, 12, 30, 12))
    await rig.add("ivan", fee=D("100"))
    rig.clock.instant = utc(2027, 12, 31, 21, 59)  # 23:59 Kyiv, 31 December
    await run(rig)
    rig.clock.instant = utc(2027, 12, 31, 22, 0)  # 00:00 Kyiv, 1 January 2028
    await run(rig)
    assert await rig.charges() == [("ivan", "2027-12-31", 310), ("ivan", "2028-01-01", 323)]


async def test_a_restart_mid_day_does_not_charge_twice(database: Database) -> None:
    """A run cut short leaves its charges but no finished day; the next run goes through the
    day again and charges only who was not charged yet."""
    rig = make_rig(database, utc(2027, 5, 10))
    for n in range(5):
        await rig.add(f"s{n}", fee=D("31"))
    start = await rig.balances()
    await run(rig, batch=2)
    async with database.sessions.begin() as session:
        await session.execute(delete(FeeDay))  # as if the process died before the last step
    await rig.add("late", fee=D("31"))
    start["late"] = 0
    await run(rig, batch=2)
    charges = await rig.charges()
    assert sorted(login for login, _, _ in charges) == ["late", "s0", "s1", "s2", "s3", "s4"]
    assert {cents for _, _, cents in charges} == {100}
    await assert_books_balance(rig, start)


async def test_frozen_and_disabled_are_not_charged_until_back(database: Database) -> None:
    rig = make_rig(database, utc(2027, 6, 1))
    await rig.add("ivan", fee=D("30"))
    await rig.admin.set_frozen("ivan", True, actor="admin")
    await run(rig)
    rig.clock.instant = utc(2027, 6, 2)
    await rig.admin.set_frozen("ivan", False, actor="admin")
    await rig.admin.set_disabled("ivan", True, actor="admin")
    await run(rig)
    rig.clock.instant = utc(2027, 6, 3)
    await rig.admin.set_disabled("ivan", False, actor="admin")
    await run(rig)
    assert await rig.charges() == [("ivan", "2027-06-03", 100)]


async def test_catch_up_after_downtime(database: Database) -> None:
    """Last run 1 July, next 12 July (fee_catch_up_days 3): 9 to 12 July charged, 2 to 8 not."""
    rig = make_rig(database, utc(2027, 7, 1), fee_catch_up_days=3)
    await rig.add("ivan", fee=D("31"))
    await run(rig)  # 1 July
    rig.clock.instant = utc(2027, 7, 12)
    await rig.add("new", fee=D("31"))  # added on the 12th: not charged for the 9th-11th
    result = await charge_fee(rig.database.sessions, rig.clock, rig.settings, rig.audit)
    assert [day for login, day, _ in await rig.charges() if login == "ivan"] == [
        "2027-07-01",
        "2027-07-09",
        "2027-07-10",
        "2027-07-11",
        "2027-07-12",
    ]
    assert [day for login, day, _ in await rig.charges() if login == "new"] == ["2027-07-12"]
    assert result.counts["charged"] == 5
    assert result.counts["days_missed"] == 7
    assert "7 older missed day(s) left uncharged" in result.summary


async def test_monthly_mode_charges_the_first_once_even_when_run_late(
    database: Database,
) -> None:
    rig = make_rig(database, utc(2027, 1, 30), fee_mode="monthly")
    await rig.add("ivan", fee=D("200"))
    await run(rig)  # 30 January: nothing
    rig.clock.instant = utc(2027, 2, 3)  # down on the 1st and 2nd
    await run(rig)
    await run(rig)
    rig.clock.instant = utc(2027, 2, 4)
    await run(rig)
    assert await rig.charges() == [("ivan", "2027-02-01", 20_000)]
    journal = await rig.audit.records("ivan")
    assert [(r.kind, r.amount, r.detail, r.source) for r in journal if r.kind == "fee"] == [
        ("fee", D("-200.00"), "monthly fee for 2027-02", "job charge_fee")
    ]


async def test_the_journal_entry_of_a_charge(database: Database) -> None:
    rig = make_rig(database, utc(2027, 1, 31, 12))
    await rig.add("ivan", balance=D("5"), fee=D("100"))
    result = await charge_fee(rig.database.sessions, rig.clock, rig.settings, rig.audit)
    (entry,) = [r for r in await rig.audit.records("ivan") if r.kind == "fee"]
    assert (entry.amount, entry.before, entry.after, entry.field, entry.outcome) == (
        D("-3.10"),
        D("5.00"),
        D("1.90"),
        "balance",
        "ok",
    )
    assert (
        entry.detail
        == "daily fee for 2027-01-31, day 31 of 31 (the month's last day: the remainder)"
    )
    assert result.summary == (
        "daily fee for 2027-01-31: charged 1 subscriber-day(s), 3.10 in all; 0 already charged"
    )


async def test_two_instances_at_once_charge_each_subscriber_once(database: Database) -> None:
    """Two engines (two processes) run the job together, in small batches so they interleave."""
    rig = make_rig(database, utc(2027, 3, 28, 1, 30))  # 04:30 Kyiv on the spring DST day
    for n in range(40):
        await rig.add(f"s{n:02}", balance=D("100"), fee=D("31"))
    start = await rig.balances()
    other = create_engine(DatabaseSettings(url=database.url))
    try:
        other_sessions = session_factory(other)
        other_clock = FixedClock(rig.clock.instant)
        results = await asyncio.gather(
            charge_fee(database.sessions, rig.clock, rig.settings, rig.audit, batch=3),
            charge_fee(
                other_sessions,
                other_clock,
                BillingSettings(),
                AuditJournal(other_sessions, "local", other_clock),
                batch=3,
            ),
        )
    finally:
        await other.dispose()
    assert sum(r.counts["charged"] for r in results) == 40
    assert sum(r.counts["charged"] + r.counts["already_charged"] for r in results) >= 40
    assert len(await rig.charges()) == 40
    assert set((await rig.balances()).values()) == {100_00 - 100}
    await assert_books_balance(rig, start)
