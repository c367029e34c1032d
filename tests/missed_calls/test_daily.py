"""Job missed_stats: WhyDoYouCall's wdycinfo row per local day, rewritten on rerun.

Calls here are HAND-MADE (see conftest) except where the capture is named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select

from call_log.models import CallRow
from missed_calls.daily import missed_stats
from missed_calls.models import DailyStatsRow, RecallAttemptRow
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.missed_calls.conftest import MakeTracker, capture_messages, cdr, feed, inbound_call
from tests.missed_calls.test_stats import answered_outbound
from tests.schema import schema_drift


async def rows(db: Database) -> dict[date, tuple[object, ...]]:
    async with db.sessions() as session:
        found = await session.scalars(select(DailyStatsRow).order_by(DailyStatsRow.day))
        return {
            r.day: (
                r.missed,
                r.recalled,
                r.unsuccessful,
                r.distinct_numbers,
                r.missed_numbers,
                r.total_recall_seconds,
                r.average_recall_seconds,
            )
            for r in found
        }


async def test_a_row_per_day_updated_by_reruns(
    db: Database, make_tracker: MakeTracker, clock: FixedClock
) -> None:
    # Saturday 2026-11-21, 23:30 Kyiv: two misses from one number, one from another
    clock.instant = datetime(2026, 11, 21, 21, 30, tzinfo=UTC)
    tracker = make_tracker()
    await feed(tracker, inbound_call("1.1", "0501110001"))
    await feed(tracker, inbound_call("1.2", "0501110001"))
    await feed(tracker, inbound_call("1.3", "0501110002"))
    clock.instant += timedelta(minutes=20)  # 23:50 Kyiv: the evening run
    first = await missed_stats(db.sessions, clock)
    assert first.summary == (
        "2026-11-20..2026-11-21: today 3 missed, 0 recalled, 0 unsuccessful recall(s)"
    )
    assert await rows(db) == {
        date(2026, 11, 20): (0, 0, 0, 0, "", 0, None),
        date(2026, 11, 21): (3, 0, 0, 2, "+380501110001 +380501110002", 0, None),
    }
    # 00:10 Kyiv on the 22nd: 0501110001 called back (both its misses); a miss of the 22nd
    clock.instant += timedelta(minutes=20)
    await feed(tracker, answered_outbound("2.1", "0501110001"))
    await feed(tracker, inbound_call("2.2", "0501110003"))
    # later on the 22nd, the capture's misses and a failed attempt to one of them
    clock.instant = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    await feed(tracker, capture_messages())
    clock.instant += timedelta(minutes=1)
    await feed(
        tracker,
        [cdr("2.3", src="101", dst="0671234567", disposition="NO ANSWER", dstchannel="PJSIP/t")],
    )
    clock.instant = datetime(2026, 11, 22, 21, 50, tzinfo=UTC)  # 23:50 Kyiv on the 22nd
    await missed_stats(db.sessions, clock)
    again = await missed_stats(db.sessions, clock)  # a rerun changes nothing
    assert again.counts == {"days": 2, "missed": 3, "recalled": 0, "unsuccessful": 1}
    stored = await rows(db)
    # the 21st is rewritten: two of its misses were recalled 40 minutes later
    assert stored[date(2026, 11, 21)] == (
        3, 2, 0, 2, "+380501110001 +380501110002", 2400 + 2400, 2400.0
    )  # fmt: skip
    day = stored[date(2026, 11, 22)]
    assert day[:4] == (3, 0, 1, 3)
    assert day[4] == "+380501110003 +380501112233 +380671234567"
    # the rows outlive the calls (retention may prune those): the day keeps its numbers
    async with db.sessions.begin() as session:
        await session.execute(delete(CallRow))
        await session.execute(delete(RecallAttemptRow))
    clock.instant = datetime(2026, 11, 23, 21, 50, tzinfo=UTC)
    await missed_stats(db.sessions, clock, days=1)
    assert (await rows(db))[date(2026, 11, 22)] == day


async def test_migrations_match_models(db: Database) -> None:
    assert await schema_drift(db, DailyStatsRow) == []
