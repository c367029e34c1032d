"""The one clock: UTC instants for storage, local dates (configured timezone) for billing rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def as_utc(instant: datetime) -> datetime:
    """UTC, aware. SQLite stores datetimes without their offset and hands them back naive."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


class Clock:
    def __init__(self, timezone: str = "Europe/Kyiv") -> None:
        self.tz = ZoneInfo(timezone)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def local(self, instant: datetime) -> datetime:
        return as_utc(instant).astimezone(self.tz)


class FixedClock(Clock):
    """A clock that stands still until moved; for tests and reproducible demos."""

    def __init__(self, instant: datetime, timezone: str = "Europe/Kyiv") -> None:
        super().__init__(timezone)
        self.instant = instant

    def now(self) -> datetime:
        return self.instant
