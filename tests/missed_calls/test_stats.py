"""Daily statistics (WhyDoYouCall's wdycinfo) and days in the configured timezone.

Calls here are HAND-MADE (see conftest) except where the capture is named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ami_listener.message import AmiMessage
from missed_calls import DailyStats
from primitives.clock import FixedClock
from tests.missed_calls.conftest import (
    MakeTracker,
    capture_messages,
    cdr,
    channel_event,
    feed,
    inbound_call,
)


def answered_outbound(uid: str, number: str) -> list[AmiMessage]:
    return [
        channel_event("Newchannel", uid, uid, Context="from-internal"),
        cdr(uid, src="101", dst=number, disposition="ANSWERED", dstchannel="PJSIP/trunk-1"),
        channel_event("Hangup", uid, uid),
    ]


async def test_statistics_per_day(make_tracker: MakeTracker, clock: FixedClock) -> None:
    # Saturday 2026-11-21, 23:30 in Kyiv (21:30 UTC): two misses from one number, one other
    clock.instant = datetime(2026, 11, 21, 21, 30, tzinfo=UTC)
    tracker = make_tracker()
    await feed(tracker, inbound_call("1.1", "0501110001"))
    await feed(tracker, inbound_call("1.2", "0501110001"))
    await feed(tracker, inbound_call("1.3", "0501110002"))
    # 00:10 Kyiv on the 22nd (still the 21st in UTC): recalled, and a new miss of the 22nd
    clock.instant += timedelta(minutes=40)
    await feed(tracker, answered_outbound("2.1", "0501110001"))
    await feed(tracker, inbound_call("2.2", "0501110003"))
    # later on the 22nd, the capture's two misses; a failed attempt to one of them
    clock.instant = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    await feed(tracker, capture_messages())
    clock.instant += timedelta(minutes=1)
    await feed(
        tracker,
        [cdr("2.3", src="101", dst="0671234567", disposition="NO ANSWER", dstchannel="PJSIP/t")],
    )
    # Monday the 23rd: nothing yet
    clock.instant = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    stats = await tracker.stats(4)
    assert stats == [
        DailyStats(date(2026, 11, 20), 0, 0, 0, None, 0),
        DailyStats(date(2026, 11, 21), 3, 2, 0, 2400.0, 2),
        DailyStats(date(2026, 11, 22), 3, 0, 1, None, 3),
        DailyStats(date(2026, 11, 23), 0, 0, 0, None, 0),
    ]
    assert stats[1].open == 1
    # lists are by local day too
    assert [m.linkedid for m in await tracker.list(date(2026, 11, 21))] == ["1.1", "1.2", "1.3"]
    open_22nd = await tracker.list(date(2026, 11, 22), only_open=True)
    assert [m.linkedid for m in open_22nd] == ["2.2", "1795311485.13", "1795311498.21"]
    assert await tracker.list() == []  # today, the 23rd

    # the statistics are the rows: a new tracker (a restart) gives the same
    assert await make_tracker().stats(4) == stats


async def test_stats_days_are_bounded(make_tracker: MakeTracker) -> None:
    tracker = make_tracker()
    assert len(await tracker.stats(1)) == 1
    assert len(await tracker.stats(366)) == 366
    for days in (0, -1, 367):
        with pytest.raises(ValueError, match="days"):
            await tracker.stats(days)
