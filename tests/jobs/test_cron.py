"""Cron expressions in Europe/Kyiv: the two DST days of 2027 (28 March: 03:00 EET becomes
04:00 EEST; 31 October: 04:00 EEST becomes 03:00 EET) and ordinary ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from pydantic import ValidationError

from jobs.cron import CronSchedule
from jobs.errors import BadSchedule
from jobs.settings import JobSettings
from tests.jobs.rig import KYIV, kyiv, local

SPRING = (2027, 3, 28)
AUTUMN = (2027, 10, 31)


def ticks(expression: str, start: datetime, end: datetime) -> list[datetime]:
    """Every tick in (start, end]."""
    schedule = CronSchedule(expression, KYIV)
    found, at = [], start
    while (at := schedule.next_after(at)) <= end:
        found.append(at)
    return found


def day_of(year: int, month: int, day: int) -> tuple[datetime, datetime]:
    """The local day as (its first instant, its last)."""
    start = kyiv(year, month, day)
    end = kyiv(year, month, day) + timedelta(days=1, hours=1)
    end = min(kyiv(*_next(year, month, day)), end) - timedelta(microseconds=1)
    return start - timedelta(microseconds=1), end


def _next(year: int, month: int, day: int) -> tuple[int, int, int]:
    following = datetime(year, month, day) + timedelta(days=1)
    return following.year, following.month, following.day


@pytest.mark.parametrize(
    ("date", "expected"),
    [(SPRING, "2027-03-28 04:00 EEST"), (AUTUMN, "2027-10-31 03:30 EEST")],
    ids=["spring", "autumn"],
)
def test_a_0330_job_runs_exactly_once_on_each_switch_day(
    date: tuple[int, int, int], expected: str
) -> None:
    start, end = day_of(*date)
    found = ticks("30 3 * * *", start, end)
    # Spring: 03:30 never happens; the job runs once, when the clock jumps (Vixie cron's
    # rule). Autumn: 03:30 happens twice; the job runs at the first only.
    assert [local(t) for t in found] == [expected]


def test_a_0330_job_on_the_days_around_the_switches() -> None:
    found = ticks("30 3 * * *", kyiv(2027, 3, 26), kyiv(2027, 3, 31))
    assert [local(t) for t in found] == [
        "2027-03-26 03:30 EET",
        "2027-03-27 03:30 EET",
        "2027-03-28 04:00 EEST",
        "2027-03-29 03:30 EEST",
        "2027-03-30 03:30 EEST",
    ]
    found = ticks("30 3 * * *", kyiv(2027, 10, 30), kyiv(2027, 11, 2))
    assert [local(t) for t in found] == [
        "2027-10-30 03:30 EEST",
        "2027-10-31 03:30 EEST",
        "2027-11-01 03:30 EET",
    ]


def test_a_0230_job_on_the_spring_day_is_untouched() -> None:
    start, end = day_of(*SPRING)
    assert [local(t) for t in ticks("30 2 * * *", start, end)] == ["2027-03-28 02:30 EET"]


@pytest.mark.parametrize(("date", "hours"), [(SPRING, 23), (AUTUMN, 25)], ids=["spring", "autumn"])
def test_an_hourly_job_runs_every_real_hour_across_the_switch(
    date: tuple[int, int, int], hours: int
) -> None:
    start, end = day_of(*date)
    found = ticks("0 * * * *", start, end)
    assert len(found) == hours
    gaps = {b - a for a, b in pairwise(found)}
    assert gaps == {timedelta(hours=1)}  # never two in one real hour, never a real hour without


def test_hourly_ticks_by_wall_time_around_the_switches() -> None:
    spring = ticks("0 * * * *", kyiv(2027, 3, 28, 1, 30), kyiv(2027, 3, 28, 5, 30))
    assert [local(t) for t in spring] == [
        "2027-03-28 02:00 EET",
        "2027-03-28 04:00 EEST",
        "2027-03-28 05:00 EEST",
    ]
    # Half past every hour: 03:30 never happens in spring, and no run stands in for it
    # (02:30 EET and 04:30 EEST are one real hour apart).
    half = ticks("30 * * * *", kyiv(2027, 3, 28, 1, 45), kyiv(2027, 3, 28, 5, 0))
    assert [local(t) for t in half] == ["2027-03-28 02:30 EET", "2027-03-28 04:30 EEST"]
    autumn = ticks("0 * * * *", kyiv(2027, 10, 31, 1, 30), kyiv(2027, 10, 31, 4, 30))
    assert [local(t) for t in autumn] == [
        "2027-10-31 02:00 EEST",
        "2027-10-31 03:00 EEST",
        "2027-10-31 03:00 EET",
        "2027-10-31 04:00 EET",
    ]


def test_every_twenty_minutes_through_the_repeated_hour() -> None:
    found = ticks("*/20 * * * *", kyiv(2027, 10, 31, 2, 50), kyiv(2027, 10, 31, 4, 0))
    assert [local(t) for t in found] == [
        "2027-10-31 03:00 EEST",
        "2027-10-31 03:20 EEST",
        "2027-10-31 03:40 EEST",
        "2027-10-31 03:00 EET",
        "2027-10-31 03:20 EET",
        "2027-10-31 03:40 EET",
        "2027-10-31 04:00 EET",
    ]


def test_fixed_hour_minutes_inside_the_skipped_hour_run_once_at_the_jump() -> None:
    found = ticks("*/15 3 * * *", kyiv(2027, 3, 27, 12), kyiv(2027, 3, 28, 12))
    assert [local(t) for t in found] == ["2027-03-28 04:00 EEST"]


def test_going_back_finds_the_same_ticks() -> None:
    schedule = CronSchedule("0 * * * *", KYIV)
    at = kyiv(2027, 10, 31, 4, 30)
    back = [local(schedule.ticks_back(at, n)) for n in (1, 2, 3, 4)]
    assert back == [
        "2027-10-31 04:00 EET",
        "2027-10-31 03:00 EET",
        "2027-10-31 03:00 EEST",
        "2027-10-31 02:00 EEST",
    ]
    daily = CronSchedule("30 3 * * *", KYIV)
    assert local(daily.latest_at_or_before(kyiv(2027, 3, 28, 12))) == "2027-03-28 04:00 EEST"
    assert local(daily.latest_at_or_before(kyiv(2027, 3, 28, 4))) == "2027-03-28 04:00 EEST"
    assert local(daily.latest_at_or_before(kyiv(2027, 3, 28, 2, 59))) == "2027-03-27 03:30 EET"


def test_a_tick_is_after_the_instant_and_at_or_before_it() -> None:
    schedule = CronSchedule("*/2 * * * *", KYIV)
    at = kyiv(2026, 11, 22, 12, 0)
    assert local(schedule.next_after(at)) == "2026-11-22 12:02 EET"
    assert schedule.latest_at_or_before(at) == at
    assert local(schedule.latest_at_or_before(at - timedelta(seconds=1))) == "2026-11-22 11:58 EET"


def test_a_monthly_job_crossing_a_switch_keeps_its_wall_time() -> None:
    schedule = CronSchedule("40 1 1 * *", KYIV)  # Ubilling's vserviceschargefee
    assert local(schedule.next_after(kyiv(2027, 3, 15))) == "2027-04-01 01:40 EEST"
    assert local(schedule.next_after(kyiv(2027, 10, 15))) == "2027-11-01 01:40 EET"


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("61 * * * *", "61"),
        ("* * * *", "five fields"),
        ("* * * * * *", "five fields"),
        ("0 0 30 2 *", "never matches"),
        ("every day", "five fields"),
    ],
)
def test_bad_expressions_are_refused_with_a_reason(expression: str, says: str) -> None:
    with pytest.raises(BadSchedule, match=says):
        CronSchedule(expression, KYIV)
    with pytest.raises(ValidationError, match=says):
        JobSettings(name="x", schedule=expression)


def test_keywords_and_spacing() -> None:
    assert CronSchedule("@daily", KYIV).expression == "@daily"
    assert CronSchedule(" */5   *  * * * ", KYIV).expression == "*/5 * * * *"
    assert CronSchedule("@hourly", KYIV).every_hour
    assert not CronSchedule("@daily", KYIV).every_hour
    assert CronSchedule("0 0-23 * * *", KYIV).every_hour
