"""When campaigns run: a weekly start time per weekday, and the hours calls may be made.

The weekly schedule is the original call-out service's `schedule.json`: a start time per
weekday, where `00:00` (or a missing day) means no run that day. Both are read in the
clock's timezone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from types import MappingProxyType
from typing import Any

from callfile_spooler.errors import ScheduleError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{day: day for day in DAYS},
        "monday": "mon",
        "tuesday": "tue",
        "wednesday": "wed",
        "thursday": "thu",
        "friday": "fri",
        "saturday": "sat",
        "sunday": "sun",
        # the seed's web page wrote the days in Russian
        "пн": "mon",
        "вт": "tue",
        "ср": "wed",
        "чт": "thu",
        "пт": "fri",
        "сб": "sat",
        "вс": "sun",
    }
)
_TIME = re.compile(r"(?P<h>\d{1,2})[:-](?P<m>\d{2})")


def parse_time(text: str, *, allow_24: bool = False) -> time | None:
    """`HH:MM` (or the seed's `HH-MM`) as a time; `24:00` gives None when allowed."""
    match = _TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ScheduleError(f"{text!r} is not a time (HH:MM)")
    hour, minute = int(match["h"]), int(match["m"])
    if allow_24 and hour == 24 and minute == 0:
        return None
    if hour > 23 or minute > 59:
        raise ScheduleError(f"{text!r} is not a time of day (00:00-23:59)")
    return time(hour, minute)


def _hhmm(value: time | None) -> str:
    return "24:00" if value is None else value.strftime("%H:%M")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """`HH:MM-HH:MM`: calls may start from `start` up to (not including) `end`.

    An end before the start wraps past midnight (`21:00-09:00`); `24:00` is the end of the
    day.
    """

    start: time
    end: time | None  # None: midnight at the end of the day

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        parts = text.split("-") if isinstance(text, str) else []
        if len(parts) != 2:
            raise ScheduleError(f"{text!r} is not a window (HH:MM-HH:MM)")
        start = parse_time(parts[0])
        end = parse_time(parts[1], allow_24=True)
        assert start is not None
        if start == end:
            raise ScheduleError(f"window {text!r} is empty (for all day write 00:00-24:00)")
        return cls(start, end)

    def contains(self, moment: time) -> bool:
        moment = moment.replace(tzinfo=None)
        if self.end is None:
            return moment >= self.start
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """A start time per weekday (`mon` … `sun`); a day absent or at 00:00 has no run."""

    starts: tuple[tuple[str, time], ...]

    @classmethod
    def from_mapping(cls, data: object) -> WeeklySchedule:
        if not isinstance(data, dict):
            raise ScheduleError('a schedule is an object like {"mon": "09:00", …, "sun": "00:00"}')
        starts: dict[str, time] = {}
        for key, value in data.items():
            day = _ALIASES.get(str(key).strip().lower())
            if day is None:
                raise ScheduleError(f"unknown day {key!r} (use {', '.join(DAYS)})")
            if day in starts:
                raise ScheduleError(f"{day} is given twice")
            if not isinstance(value, str):
                raise ScheduleError(f"{key}: {value!r} is not a time (HH:MM)")
            start = parse_time(value)
            assert start is not None
            if start != time(0, 0):
                starts[day] = start
        return cls(tuple((day, starts[day]) for day in DAYS if day in starts))

    @classmethod
    def from_json(cls, text: str | bytes) -> WeeklySchedule:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScheduleError(f"schedule is not JSON: {exc}") from exc
        return cls.from_mapping(data)

    def to_json(self) -> str:
        """Every day, `00:00` for the days without a run (the seed's format)."""
        given = dict(self.starts)
        return json.dumps(
            {day: given[day].strftime("%H:%M") if day in given else "00:00" for day in DAYS}
        )

    def start_on(self, local: datetime) -> time | None:
        """The start time of `local`'s weekday, or None when that day has no run."""
        return dict(self.starts).get(DAYS[local.weekday()])

    def __str__(self) -> str:
        return " ".join(f"{day} {start.strftime('%H:%M')}" for day, start in self.starts) or "none"
