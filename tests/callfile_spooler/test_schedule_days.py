"""Campaign windows and weekly schedules read the local clock (Europe/Kyiv), at the days
that break a careless rule: the two DST switch days of 2027 (28 March 03:00 → 04:00,
31 October 04:00 → 03:00), 28 February 2027, 29 February 2028, 31 December at 23:59.

Instants are in UTC with their Kyiv time and weekday beside them (UTC+2 in winter, UTC+3
in summer), worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callfile_spooler.schedule import WeeklySchedule
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.spooler import Spooler
from primitives.clock import FixedClock
from tests.callfile_spooler.conftest import make_spooler
from tests.callfile_spooler.fake_asterisk import FakeAsterisk
from tests.callfile_spooler.test_runs import setup
from tests.conftest import Database


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "instant", "spooled"),
    [
        # spring DST day: 09:00 is 06:00 UTC (UTC+3), not 07:00 as the day before
        ("09:00-18:00", utc(2027, 3, 28, 5, 59), 0),  # Sun 08:59
        ("09:00-18:00", utc(2027, 3, 28, 6, 0), 2),  # Sun 09:00
        ("09:00-18:00", utc(2027, 3, 27, 6, 59), 0),  # Sat 08:59 (UTC+2)
        ("09:00-18:00", utc(2027, 3, 27, 7, 0), 2),  # Sat 09:00 (UTC+2)
        # the 04:00 that follows 02:59 on the spring day is inside a 03:00-05:00 window
        ("03:00-05:00", utc(2027, 3, 28, 0, 59), 0),  # 02:59 (UTC+2)
        ("03:00-05:00", utc(2027, 3, 28, 1, 0), 2),  # 04:00 (UTC+3)
        # autumn DST day: 18:00 is 16:00 UTC (UTC+2); both 03:30s are inside 03:00-04:00
        ("09:00-18:00", utc(2027, 10, 31, 15, 59), 2),  # 17:59
        ("09:00-18:00", utc(2027, 10, 31, 16, 0), 0),  # 18:00
        ("03:00-04:00", utc(2027, 10, 31, 0, 30), 2),  # the first 03:30 (UTC+3)
        ("03:00-04:00", utc(2027, 10, 31, 1, 30), 2),  # the second 03:30 (UTC+2)
        ("03:00-04:00", utc(2027, 10, 31, 2, 0), 0),  # 04:00 (UTC+2)
        # a window to midnight: 23:59 on 28 Feb 2027 in, 00:00 on 1 March out
        ("08:00-24:00", utc(2027, 2, 28, 21, 59), 2),
        ("08:00-24:00", utc(2027, 2, 28, 22, 0), 0),
        ("08:00-24:00", utc(2028, 2, 29, 21, 59), 2),  # 29 Feb 2028 23:59
        # a window across midnight on 31 December
        ("21:00-09:00", utc(2027, 12, 31, 18, 59), 0),  # 20:59
        ("21:00-09:00", utc(2027, 12, 31, 21, 59), 2),  # 23:59
        ("21:00-09:00", utc(2027, 12, 31, 22, 0), 2),  # 1 Jan 2028 00:00
        ("21:00-09:00", utc(2028, 1, 1, 7, 0), 0),  # 1 Jan 09:00
    ],
)
async def test_the_window_is_local_time(
    sqlite_db: Database, settings: SpoolSettings, window: str, instant: datetime, spooled: int
) -> None:
    spooler = make_spooler(sqlite_db, FixedClock(instant), settings)
    await setup(spooler, 2, window=window)
    assert (await spooler.tick()).spooled == spooled


async def finish_the_run(spooler: Spooler, clock: FixedClock, spool_dir: Path) -> None:
    """Asterisk answers every call of the run; a few seconds pass; the run is done."""
    asterisk = FakeAsterisk(spool_dir)
    asterisk.step(clock.now())
    asterisk.finish(clock.now() + timedelta(seconds=5))
    clock.instant += timedelta(seconds=5)
    await spooler.tick()
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    assert (await spooler.campaigns.get("promo")).state == "done"


@pytest.mark.parametrize(
    ("schedule", "steps"),
    [
        pytest.param(
            {"sun": "03:30"},
            [
                (utc(2027, 3, 28, 0, 59), 0),  # Sun 02:59 (UTC+2)
                (utc(2027, 3, 28, 1, 0), 1),  # Sun 04:00 (UTC+3): 03:30 never came, but passed
                (utc(2027, 3, 28, 20, 59), 1),  # Sun 23:59: one run that day
            ],
            id="spring DST day",
        ),
        pytest.param(
            {"sun": "03:30"},
            [
                (utc(2027, 10, 31, 0, 29), 0),  # Sun 03:29 (UTC+3)
                (utc(2027, 10, 31, 0, 30), 1),  # the first 03:30
                (utc(2027, 10, 31, 1, 30), 1),  # the second 03:30 (UTC+2): not again
                (utc(2027, 10, 31, 21, 59), 1),  # Sun 23:59
            ],
            id="autumn DST day",
        ),
        pytest.param(
            {"sun": "23:00", "mon": "00:30"},
            [
                (utc(2027, 2, 28, 20, 59), 0),  # Sun 28 Feb 22:59
                (utc(2027, 2, 28, 21, 0), 1),  # Sun 23:00
                (utc(2027, 2, 28, 22, 29), 1),  # Mon 1 Mar 00:29 (UTC is still Sunday)
                (utc(2027, 2, 28, 22, 30), 2),  # Mon 00:30
            ],
            id="28 Feb 2027",
        ),
        pytest.param(
            {"tue": "12:00", "wed": "00:00"},
            [
                (utc(2028, 2, 28, 22, 0), 0),  # Tue 29 Feb 00:00
                (utc(2028, 2, 29, 9, 59), 0),  # Tue 11:59
                (utc(2028, 2, 29, 10, 0), 1),  # Tue 12:00
                (utc(2028, 2, 29, 21, 59), 1),  # Tue 23:59
                (utc(2028, 2, 29, 22, 0), 1),  # Wed 1 Mar 00:00: "00:00" is no run
            ],
            id="29 Feb 2028",
        ),
        pytest.param(
            {"fri": "23:59", "sat": "00:01"},
            [
                (utc(2027, 12, 31, 21, 58), 0),  # Fri 31 Dec 23:58
                (utc(2027, 12, 31, 21, 59), 1),  # Fri 23:59
                (utc(2027, 12, 31, 22, 0), 1),  # Sat 1 Jan 2028 00:00
                (utc(2027, 12, 31, 22, 1), 2),  # Sat 00:01
            ],
            id="31 Dec 23:59",
        ),
    ],
)
async def test_a_weekly_schedule_runs_once_on_its_local_day(
    sqlite_db: Database,
    settings: SpoolSettings,
    spool_dir: Path,
    schedule: dict[str, str],
    steps: list[tuple[datetime, int]],
) -> None:
    clock = FixedClock(steps[0][0] - timedelta(minutes=1))
    spooler = make_spooler(sqlite_db, clock, settings)
    await setup(spooler, 2, start=False, schedule=WeeklySchedule.from_mapping(schedule))
    runs = 0
    for instant, expected in steps:
        clock.instant = instant
        await spooler.tick()
        info = await spooler.campaigns.get("promo")
        assert info.run_no == expected, f"at {clock.local(instant):%a %Y-%m-%d %H:%M %Z}"
        if info.run_no > runs:
            runs = info.run_no
            await finish_the_run(spooler, clock, spool_dir)
