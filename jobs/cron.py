"""Cron expressions in the service's timezone, with the two DST days handled.

croniter parses the expression and matches it against local wall-clock times (naive
datetimes: croniter then does no DST arithmetic of its own). This module turns each
matching wall time into the instants (UTC) the job runs at, as Vixie cron does (cron(8),
"Daylight Saving Time and other time changes"):

* a wall time that happens once: that instant;
* a wall time inside the hour skipped in spring (Kyiv: 03:00-03:59 on the last Sunday of
  March, when 03:00 EET becomes 04:00 EEST): a job at fixed hours (`30 3 * * *`) runs once,
  at the end of the gap (04:00 EEST); a job that runs every hour (its hour field `*`:
  `5 * * * *`, `*/10 * * * *`) has no run there, since that real hour never happened;
* a wall time of the hour repeated in autumn (03:00-03:59 on the last Sunday of October,
  when 04:00 EEST becomes 03:00 EET again): a fixed-hour job runs at the first of the two
  only; an every-hour job runs at both, one real hour apart.

So a 03:30 job runs exactly once on both switch days, a 02:30 job is untouched (02:30 exists
on both), and an hourly job runs every real hour: 23 times on the spring day, 25 in autumn.
A tick is an instant: the claim that makes one instance run it (jobs.store) is keyed on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from jobs.errors import BadSchedule
from primitives.clock import as_utc

_NEARBY = (timedelta(days=-1), timedelta(days=1))
"""How far from an instant a clock change is looked for (DST changes are months apart)."""
_RESOLUTION = timedelta(seconds=1)
_KEYWORDS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight"})
_HOURLY_KEYWORD = "@hourly"


def check_expression(expression: str) -> str:
    """`expression` tidied (single spaces) when croniter takes it as five fields or one of
    the @ keywords and it matches at least once; BadSchedule saying why otherwise."""
    text = " ".join(expression.split())
    fields = text.split(" ")
    if text.lower() not in _KEYWORDS | {_HOURLY_KEYWORD} and len(fields) != 5:
        raise BadSchedule(
            f"schedule {expression!r}: five fields (minute hour day month weekday, as in "
            "crontab) or @hourly/@daily/@weekly/@monthly/@yearly"
        )
    try:
        croniter(text, datetime(2000, 1, 1), ret_type=datetime).get_next(datetime)
    except CroniterBadDateError:
        raise BadSchedule(f"schedule {expression!r} never matches a date") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise BadSchedule(f"schedule {expression!r}: {exc}") from None
    return text


class CronSchedule:
    """A cron expression evaluated in one timezone: ticks as UTC instants."""

    def __init__(self, expression: str, tz: ZoneInfo) -> None:
        self.expression = check_expression(expression)
        self.tz = tz
        hours = croniter(self.expression).expanded[1]
        self.every_hour = hours == ["*"] or {int(h) for h in hours} == set(range(24))
        """The hour field covers every hour: runs follow real time across DST changes."""

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.tz.key})"

    # ------------------------------------------------------------------ ticks

    def next_after(self, instant: datetime) -> datetime:
        """The first tick strictly after `instant` (UTC)."""
        instant = as_utc(instant)
        shift = self._shift_near(instant)
        matches = croniter(self.expression, self._wall(instant) - shift, ret_type=datetime)
        best: datetime | None = None
        while True:
            wall = matches.get_next(datetime)
            if best is not None and wall > self._wall(best) + shift:
                return best
            later = [m for m in self.instants(wall) if m > instant]
            if later and (best is None or min(later) < best):
                best = min(later)

    def latest_at_or_before(self, instant: datetime) -> datetime:
        """The last tick at or before `instant` (UTC)."""
        instant = as_utc(instant)
        shift = self._shift_near(instant)
        start = self._wall(instant) + shift + timedelta(minutes=1)
        matches = croniter(self.expression, start, ret_type=datetime)
        best: datetime | None = None
        while True:
            wall = matches.get_prev(datetime)
            if best is not None and wall < self._wall(best) - shift:
                return best
            earlier = [m for m in self.instants(wall) if m <= instant]
            if earlier and (best is None or max(earlier) > best):
                best = max(earlier)

    def ticks_back(self, instant: datetime, count: int) -> datetime:
        """The `count`-th tick going back from `instant` (1: the latest at or before it)."""
        tick = self.latest_at_or_before(instant)
        for _ in range(count - 1):
            tick = self.latest_at_or_before(tick - _RESOLUTION)
        return tick

    def instants(self, wall: datetime) -> list[datetime]:
        """The instants a matching local wall time stands for (see the module's rules)."""
        first = wall.replace(tzinfo=self.tz, fold=0)
        second = wall.replace(tzinfo=self.tz, fold=1)
        if self._wall(first) != wall:  # skipped by the spring change
            return [] if self.every_hour else [self._gap_end(first, second)]
        if first.utcoffset() != second.utcoffset():  # repeated by the autumn change
            both = [as_utc(first), as_utc(second)]
            return sorted(both) if self.every_hour else [min(both)]
        return [as_utc(first)]

    # ------------------------------------------------------------------ helpers

    def _wall(self, instant: datetime) -> datetime:
        return as_utc(instant).astimezone(self.tz).replace(tzinfo=None)

    def _offset(self, instant: datetime) -> timedelta:
        return instant.astimezone(self.tz).utcoffset() or timedelta(0)

    def _shift_near(self, instant: datetime) -> timedelta:
        """The size of a clock change within a day of `instant` (0 when there is none)."""
        here = self._offset(instant)
        return max(abs(self._offset(instant + d) - here) for d in _NEARBY)

    def _gap_end(self, first: datetime, second: datetime) -> datetime:
        """The instant the clock jumped at: the first one whose offset is the new one.

        A wall time in the gap read with either offset lands on both sides of the change."""
        low, high = sorted((as_utc(first), as_utc(second)))
        after = self._offset(high)
        while high - low > _RESOLUTION:
            middle = low + (high - low) / 2
            if self._offset(middle) == after:
                high = middle
            else:
                low = middle
        return high.replace(microsecond=0).astimezone(UTC)
