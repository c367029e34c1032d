"""Job end_credits: a credit ends after its last day, in Kyiv time, once and journalled."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest
from sqlalchemy import select

from billing_client.audit import AuditJournal
from billing_client.local.credit_expiry import end_credits
from billing_client.models import Subscriber
from billing_client.subscriber import Status
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory
from tests.billing_client.jobs_rig import D, Rig, make_rig, utc
from tests.conftest import Database


@pytest.mark.parametrize(
    ("last_day", "still_in_force", "ended_at"),
    [
        # 28 February 2027 23:59 Kyiv is 21:59 UTC; 1 March 00:00 Kyiv is 22:00 UTC
        (date(2027, 2, 28), utc(2027, 2, 28, 21, 59), utc(2027, 2, 28, 22, 0)),
        # 29 February 2028
        (date(2028, 2, 29), utc(2028, 2, 29, 21, 59), utc(2028, 2, 29, 22, 0)),
        # 31 December 2027 23:59 Kyiv, then New Year
        (date(2027, 12, 31), utc(2027, 12, 31, 21, 59), utc(2027, 12, 31, 22, 0)),
        # the spring DST day: 23:59 Kyiv is 20:59 UTC (summer time); midnight 21:00 UTC
        (date(2027, 3, 28), utc(2027, 3, 28, 20, 59), utc(2027, 3, 28, 21, 0)),
        # the autumn DST day: 23:59 Kyiv is 21:59 UTC (winter time again)
        (date(2027, 10, 31), utc(2027, 10, 31, 21, 59), utc(2027, 10, 31, 22, 0)),
    ],
)
async def test_a_credit_ends_after_its_last_day(
    database: Database, last_day: date, still_in_force: datetime, ended_at: datetime
) -> None:
    rig = make_rig(database, utc(last_day.year, last_day.month, last_day.day, 0))
    await rig.add("ivan", balance=D("-30"), credit=D("50"), credit_expire=last_day, fee=D("100"))
    rig.clock.instant = still_in_force
    assert (await end_credits(database.sessions, rig.clock, rig.audit)).counts["ended"] == 0
    info = await rig.admin.get("ivan")
    assert info is not None
    assert (info.credit, info.status) == (D("50.00"), Status.ACTIVE)

    rig.clock.instant = ended_at
    before_job = await rig.admin.get("ivan")
    assert before_job is not None
    assert (before_job.credit, before_job.status) == (D("0.00"), Status.DEBTOR)  # the rule
    result = await end_credits(database.sessions, rig.clock, rig.audit)
    assert result.counts == {"ended": 1, "kopecks": 5000}
    assert result.summary == "ended 1 expired credit(s), 50.00 in all"
    assert await rig.admin.get("ivan") == before_job  # what callers hear does not change
    exported = await stored_credit(rig, "ivan")
    assert exported == (0, None)
    entries = [r for r in await rig.audit.records("ivan") if r.detail.startswith("expired")]
    assert [(r.kind, r.field, r.amount, r.before, r.after, r.source) for r in entries] == [
        ("credit", "credit", D("-50.00"), D("50.00"), D("0.00"), "job end_credits")
    ]
    assert entries[0].detail == f"expired after {last_day.isoformat()}"
    again = await end_credits(database.sessions, rig.clock, rig.audit)
    assert again.counts["ended"] == 0


async def stored_credit(rig: Rig, login: str) -> tuple[int, date | None]:
    async with rig.database.sessions() as session:
        row = (
            await session.execute(
                select(Subscriber.credit_cents, Subscriber.credit_expire).where(
                    Subscriber.login == login
                )
            )
        ).one()
        return row.credit_cents, row.credit_expire


async def test_two_runs_at_once_end_each_credit_once(database: Database) -> None:
    rig = make_rig(database, utc(2027, 5, 1))
    for n in range(30):
        await rig.add(f"s{n:02}", credit=D("10"), credit_expire=date(2027, 5, 1 + n % 3))
    rig.clock.instant = utc(2027, 5, 3, 12)  # 3 May: the credits of 1 and 2 May are over
    other = create_engine(DatabaseSettings(url=database.url))
    try:
        sessions = session_factory(other)
        clock = FixedClock(rig.clock.instant)
        results = await asyncio.gather(
            end_credits(database.sessions, rig.clock, rig.audit, batch=4),
            end_credits(sessions, clock, AuditJournal(sessions, "local", clock), batch=4),
        )
    finally:
        await other.dispose()
    assert sum(r.counts["ended"] for r in results) == 20
    assert (
        len([r for r in await rig.audit.records(limit=1000) if r.source == "job end_credits"]) == 20
    )
    assert {await stored_credit(rig, f"s{n:02}") for n in range(30) if n % 3 < 2} == {(0, None)}
    assert {await stored_credit(rig, f"s{n:02}") for n in range(30) if n % 3 == 2} == {
        (1000, date(2027, 5, 3))
    }
