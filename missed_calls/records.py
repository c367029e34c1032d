"""What the tracker hands out: a missed call and a day of statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from billing_client.subscriber import Status


@dataclass(frozen=True, slots=True)
class MissedCall:
    """One missed call.

    `number` is E.164 when the caller's number parsed (`number_valid`), else the raw text.
    `login`/`name`/`status` are None when no subscriber has the number, or while the
    billing could not be asked (`lookup` is then "pending" and a later `list()` retries).
    `at` is when the call started, `waited_seconds` how long the caller waited (the
    queue's hold time, else the ringing time). `recalled_at` is the start of the later
    answered call to or from the number, `recalled_by` its linkedid.
    """

    id: int
    number: str
    raw_number: str
    login: str | None
    name: str | None
    status: Status | None
    queue: str | None
    at: datetime
    waited_seconds: int
    recalled_at: datetime | None
    recalled_by: str | None
    linkedid: str = ""
    number_valid: bool = True
    queue_position: int | None = None
    lookup: str = "ok"

    @property
    def recalled(self) -> bool:
        return self.recalled_at is not None

    @property
    def seconds_to_recall(self) -> int | None:
        if self.recalled_at is None:
            return None
        return max(int((self.recalled_at - self.at).total_seconds()), 0)


@dataclass(frozen=True, slots=True)
class DailyStats:
    """One local day, as Ubilling's WhyDoYouCall keeps it (`wdycinfo`).

    Counted by the day of the miss: `missed` calls that day, how many of them have been
    `recalled` since, and `average_recall_seconds` over those. `unsuccessful_attempts` are
    unanswered calls placed that day to a number with an open miss. `missed_numbers` is
    the count of distinct numbers (WhyDoYouCall counts numbers, not calls).
    """

    day: date
    missed: int
    recalled: int
    unsuccessful_attempts: int
    average_recall_seconds: float | None
    missed_numbers: int

    @property
    def open(self) -> int:
        return self.missed - self.recalled
