"""Missed calls belong to the local day (Europe/Kyiv) they happened on: "today", the lists
by day and the daily statistics, at the days that break a careless rule.

Each case is a local day D and four misses: 23:59 the evening before, 00:00 and 23:59 on D,
00:00 the morning after; DST days add the minutes around their switch. Instants are in
UTC with their Kyiv time beside them (UTC+2 in winter, UTC+3 in summer), worked out by
hand. Calls are HAND-MADE (see conftest).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from missed_calls import DailyStats
from primitives.clock import FixedClock
from tests.missed_calls.conftest import MakeTracker, cdr, feed, inbound_call


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


CASES = [
    pytest.param(
        date(2027, 1, 31),
        utc(2027, 1, 30, 21, 59),  # 30 Jan 23:59
        utc(2027, 1, 30, 22, 0),  # 31 Jan 00:00
        [],
        utc(2027, 1, 31, 21, 59),  # 31 Jan 23:59
        utc(2027, 1, 31, 22, 0),  # 1 Feb 00:00
        id="31-day month",
    ),
    pytest.param(
        date(2027, 2, 28),
        utc(2027, 2, 27, 21, 59),
        utc(2027, 2, 27, 22, 0),
        [],
        utc(2027, 2, 28, 21, 59),
        utc(2027, 2, 28, 22, 0),  # 1 March 2027 00:00: no 29th
        id="28 Feb 2027",
    ),
    pytest.param(
        date(2028, 2, 29),
        utc(2028, 2, 28, 21, 59),  # 28 Feb 23:59
        utc(2028, 2, 28, 22, 0),  # 29 Feb 00:00
        [],
        utc(2028, 2, 29, 21, 59),
        utc(2028, 2, 29, 22, 0),  # 1 March 2028 00:00
        id="29 Feb 2028",
    ),
    pytest.param(
        date(2027, 3, 28),  # 23 hours: 03:00 becomes 04:00
        utc(2027, 3, 27, 21, 59),  # 27 Mar 23:59 (UTC+2)
        utc(2027, 3, 27, 22, 0),  # 28 Mar 00:00 (UTC+2)
        [utc(2027, 3, 28, 0, 59), utc(2027, 3, 28, 1, 0)],  # 02:59 (UTC+2), 04:00 (UTC+3)
        utc(2027, 3, 28, 20, 59),  # 28 Mar 23:59 (UTC+3)
        utc(2027, 3, 28, 21, 0),  # 29 Mar 00:00 (UTC+3)
        id="spring DST day",
    ),
    pytest.param(
        date(2027, 10, 31),  # 25 hours: 04:00 becomes 03:00
        utc(2027, 10, 30, 20, 59),  # 30 Oct 23:59 (UTC+3)
        utc(2027, 10, 30, 21, 0),  # 31 Oct 00:00 (UTC+3)
        [utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 1, 30)],  # 03:30 twice: UTC+3, UTC+2
        utc(2027, 10, 31, 21, 59),  # 31 Oct 23:59 (UTC+2)
        utc(2027, 10, 31, 22, 0),  # 1 Nov 00:00 (UTC+2)
        id="autumn DST day",
    ),
    pytest.param(
        date(2027, 12, 31),
        utc(2027, 12, 30, 21, 59),
        utc(2027, 12, 30, 22, 0),
        [],
        utc(2027, 12, 31, 21, 59),  # 31 Dec 23:59
        utc(2027, 12, 31, 22, 0),  # 1 Jan 2028 00:00
        id="31 Dec 23:59",
    ),
]


@pytest.mark.parametrize(("day", "before", "first", "inside", "last", "after"), CASES)
async def test_misses_fall_on_their_local_day(
    make_tracker: MakeTracker,
    clock: FixedClock,
    day: date,
    before: datetime,
    first: datetime,
    inside: list[datetime],
    last: datetime,
    after: datetime,
) -> None:
    tracker = make_tracker()
    moments = {"before": before, "first": first, "last": last, "after": after}
    moments.update({f"inside{i}": at for i, at in enumerate(inside)})
    for n, (name, at) in enumerate(sorted(moments.items(), key=lambda item: item[1])):
        clock.instant = at
        await feed(tracker, inbound_call(name, f"05011100{n:02d}"))
        if name == "last":  # an unanswered call back to the number missed at 00:00
            await feed(
                tracker,
                [cdr("back", src="101", dst="0501110001", disposition="NO ANSWER")],
            )
    on_day = ["first", *(f"inside{i}" for i in range(len(inside))), "last"]
    previous, following = (
        date.fromordinal(day.toordinal() - 1),
        date.fromordinal(day.toordinal() + 1),
    )

    clock.instant = last  # 23:59 on the day: it is still "today"
    assert [m.linkedid for m in await tracker.list()] == on_day
    assert [m.linkedid for m in await tracker.list(previous)] == ["before"]
    assert await tracker.stats(2) == [
        DailyStats(previous, 1, 0, 0, None, 1),
        DailyStats(day, len(on_day), 0, 1, None, len(on_day)),
    ]

    clock.instant = after  # one minute later "today" is the next day
    assert [m.linkedid for m in await tracker.list()] == ["after"]
    assert await tracker.stats(3) == [
        DailyStats(previous, 1, 0, 0, None, 1),
        DailyStats(day, len(on_day), 0, 1, None, len(on_day)),
        DailyStats(following, 1, 0, 0, None, 1),
    ]
