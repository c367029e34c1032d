"""Job reminders: who gets an SMS, what it says, at most once per period, never in quiet
hours, queued in the real SMS outbox (no transport: nothing is sent here)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest
from sqlalchemy import func, select

from billing_client.local.reminders import period_of, send_reminders
from billing_client.models import ReminderSent
from billing_client.reminder_settings import ReminderSettings, check_template
from primitives.clock import FixedClock
from primitives.job_result import JobResult
from primitives.phones import PhoneNormaliser
from sms.outbox import Outbox
from sms.settings import SmsSettings
from sms.types import OutboxMessage
from storage import DatabaseSettings, create_engine, session_factory
from tests.billing_client.jobs_rig import D, Rig, make_rig, utc
from tests.conftest import Database

ON = {"enabled": True, "template": "{name}: {balance} UAH, {days_left} day(s) left"}


def outbox(rig: Rig) -> Outbox:
    return Outbox(rig.database.sessions, rig.clock, None, SmsSettings())


async def run(rig: Rig, **settings: object) -> JobResult:
    return await send_reminders(
        rig.database.sessions,
        rig.clock,
        ReminderSettings(**{**ON, **settings}),
        outbox(rig),
        PhoneNormaliser(),
    )


async def queued(rig: Rig) -> list[tuple[str, str]]:
    messages: list[OutboxMessage] = await outbox(rig).list(limit=1000)
    assert {m.actor for m in messages} <= {"reminders"}
    return sorted((m.number, m.text) for m in messages)


async def test_who_is_reminded_and_what_it_says(database: Database) -> None:
    # 31 January 2027 10:00 Kyiv: January has 31 days, a fee of 31 costs 1.00 a day
    rig = make_rig(database, utc(2027, 1, 31, 8))
    await rig.add("three", name="Іван", phones=["0501110001"], balance=D("3"), fee=D("31"))
    await rig.add("four", phones=["0501110002"], balance=D("4"), fee=D("31"))
    await rig.add("debtor", name="Олена", phones=["0501110003"], balance=D("-7.5"))
    await rig.add("credited", phones=["0501110004"], balance=D("-7.5"), credit=D("10"),
                  credit_expire=datetime(2027, 2, 5).date(), fee=D("31"))  # fmt: skip
    await rig.add("frozen", phones=["0501110005"], balance=D("-5"), frozen=True)
    await rig.add("off", phones=["0501110006"], balance=D("-5"), disabled=True)
    await rig.add("free", phones=["0501110007"], balance=D("1"))  # fee 0: no end in sight
    await rig.add("landline", phones=["0441234567"], balance=D("-5"))
    await rig.add("second", phones=["0442345678", "0671110009"], balance=D("-1"))
    result = await run(rig)
    assert await queued(rig) == [
        ("+380501110001", "Іван: 3.00 UAH, 3 day(s) left"),
        ("+380501110003", "Олена: -7.50 UAH, 0 day(s) left"),
        ("+380501110004", "credited: -7.50 UAH, 2 day(s) left"),
        ("+380671110009", "second: -1.00 UAH, 0 day(s) left"),
    ]
    assert result.counts == {"queued": 4, "no_mobile": 1, "already": 0, "refused": 0}
    assert result.summary == (
        "queued 4 reminder(s) for 2027-W04; 1 without a mobile number; 0 reminded already; "
        "0 refused by the outbox"
    )
    assert not result.skipped
    # a new period (the day), 2 days at most: all but "three" again
    again = await run(rig, once_per="day", days_left_threshold=2)
    assert again.counts == {"queued": 3, "no_mobile": 1, "already": 0, "refused": 0}


async def test_once_per_iso_week_across_the_new_year(database: Database) -> None:
    """Thursday 31 December 2026 and Sunday 3 January 2027 are both in ISO week 2026-W53;
    Monday 4 January is 2027-W01."""
    assert period_of(datetime(2026, 12, 31).date(), "week") == "2026-W53"
    assert period_of(datetime(2027, 1, 3).date(), "week") == "2026-W53"
    assert period_of(datetime(2027, 1, 4).date(), "week") == "2027-W01"
    rig = make_rig(database, utc(2026, 12, 31, 10))
    await rig.add("ivan", phones=["0501234567"], balance=D("-1"))
    counts = []
    for instant in (utc(2026, 12, 31, 10), utc(2026, 12, 31, 12), utc(2027, 1, 3, 10),
                    utc(2027, 1, 4, 10), utc(2027, 1, 4, 11)):  # fmt: skip
        rig.clock.instant = instant
        counts.append((await run(rig)).counts["queued"])
    assert counts == [1, 0, 0, 1, 0]


async def test_once_per_day_at_the_day_boundary(database: Database) -> None:
    rig = make_rig(database, utc(2027, 2, 28, 7))
    await rig.add("ivan", phones=["0501234567"], balance=D("-1"))
    counts = []
    for instant in (utc(2027, 2, 28, 7), utc(2027, 2, 28, 18, 59), utc(2027, 3, 1, 7)):
        rig.clock.instant = instant  # 09:00 and 20:59 on the 28th, 09:00 on 1 March (Kyiv)
        counts.append((await run(rig, once_per="day")).counts["queued"])
    assert counts == [1, 0, 1]
    async with database.sessions() as session:
        periods = sorted(await session.scalars(select(ReminderSent.period)))
    assert periods == ["2027-02-28", "2027-03-01"]


@pytest.mark.parametrize(
    ("instant", "deferred"),
    [
        (utc(2027, 3, 28, 5, 59), True),  # 08:59 Kyiv on the spring DST day (UTC+3 now)
        (utc(2027, 3, 28, 6, 0), False),  # 09:00 Kyiv
        (utc(2027, 10, 31, 18, 59), False),  # 20:59 Kyiv on the autumn DST day (UTC+2 now)
        (utc(2027, 10, 31, 19, 0), True),  # 21:00 Kyiv
        (utc(2027, 12, 31, 21, 59), True),  # 23:59 Kyiv, 31 December
    ],
)
async def test_quiet_hours_defer(database: Database, instant: datetime, deferred: bool) -> None:
    rig = make_rig(database, instant)
    await rig.add("ivan", phones=["0501234567"], balance=D("-1"))
    result = await run(rig)
    assert result.skipped == deferred
    assert len(await queued(rig)) == (0 if deferred else 1)
    if deferred:
        assert result.summary == "quiet hours 21:00-09:00: deferred, nothing sent"
    no_quiet = await run(rig, quiet_hours="")
    assert not no_quiet.skipped


async def test_off_by_default(database: Database) -> None:
    rig = make_rig(database, utc(2027, 6, 1))
    await rig.add("ivan", phones=["0501234567"], balance=D("-1"))
    result = await send_reminders(
        database.sessions, rig.clock, ReminderSettings(), outbox(rig), PhoneNormaliser()
    )
    assert result.skipped
    assert await queued(rig) == []


async def test_a_text_the_outbox_refuses_is_counted_and_tried_again(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(database, utc(2027, 6, 1))
    for n in range(3):
        await rig.add(f"s{n}", phones=[f"050111000{n}"], balance=D("-1"))
    long = "{name} " + "x" * 4000  # the outbox takes at most 4000 characters
    with caplog.at_level(logging.WARNING, logger="pbxbridge.billing.reminders"):
        result = await run(rig, template=long)
    assert result.counts["refused"] == 3
    assert result.counts["queued"] == 0
    assert len(caplog.records) == 1  # once per run, not once per subscriber
    assert "3 reminder(s) refused by the outbox, e.g. s0:" in caplog.records[0].getMessage()
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ReminderSent)) == 0
    assert (await run(rig)).counts["queued"] == 3


def test_templates_are_checked_at_load() -> None:
    assert check_template("{name} {balance} {days_left}") == "{name} {balance} {days_left}"
    for bad, message in [
        ("{name.__class__}", "unknown template field"),
        ("{0}", "unknown template field"),
        ("{password}", "unknown template field"),
        ("{name!r}", "without ! or nesting"),
        ("{name:{balance}}", "without ! or nesting"),
        ("{balance", "bad braces"),
        ("{balance:d}", "cannot be filled in"),
        ("  ", "empty"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_template(bad)


async def test_two_instances_queue_one_reminder_each(database: Database) -> None:
    rig = make_rig(database, utc(2027, 10, 31, 1, 30))  # 03:30 Kyiv the second time
    for n in range(30):
        await rig.add(f"s{n:02}", phones=[f"05011100{n:02}"], balance=D("-1"))
    other = create_engine(DatabaseSettings(url=database.url))
    try:
        sessions = session_factory(other)
        clock = FixedClock(rig.clock.instant)
        settings = ReminderSettings(**ON, quiet_hours="")
        results = await asyncio.gather(
            send_reminders(
                database.sessions, rig.clock, settings, outbox(rig), PhoneNormaliser(), batch=4
            ),
            send_reminders(
                sessions,
                clock,
                settings,
                Outbox(sessions, clock, None, SmsSettings()),
                PhoneNormaliser(),
                batch=4,
            ),
        )
    finally:
        await other.dispose()
    assert sum(r.counts["queued"] for r in results) == 30
    messages = await queued(rig)
    assert len(messages) == 30
    assert len({number for number, _ in messages}) == 30
