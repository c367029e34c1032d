"""`[billing.reminders]`: SMS reminders to subscribers whose money runs out (job `reminders`).

The template is checked when the settings load, so a typo stops the service at start-up
with the key named, not at 10:00 when the first reminder would go out: only the fields of
`TEMPLATE_FIELDS`, written plainly (`{balance}`, or with a format spec such as `{name:.20}`),
no attribute or index access (`{name.__class__}`), no `!r` conversions.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TEMPLATE_FIELDS = ("name", "login", "balance", "days_left", "fee", "credit", "tariff")
_SAMPLE = {
    "name": "Іван Петренко",
    "login": "ivan",
    "balance": "-12.50",
    "days_left": "0",
    "fee": "200.00",
    "credit": "0.00",
    "tariff": "Home100",
}
_HOURS = re.compile(r"(?P<a>\d{1,2}):(?P<b>\d{2})-(?P<c>\d{1,2}):(?P<d>\d{2})")


def check_template(template: str) -> str:
    """`template` when it uses only TEMPLATE_FIELDS plainly; ValueError naming what is wrong."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad braces in the template ({exc})") from None
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS:
            raise ValueError(
                f"unknown template field {{{field}}}; fields: "
                + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
            )
        if conversion is not None or (spec and "{" in spec):
            raise ValueError(f"template field {{{field}}}: write it plainly, without ! or nesting")
    try:
        text = template.format(**_SAMPLE)
    except (ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"the template cannot be filled in ({exc})") from None
    if not text.strip():
        raise ValueError("the template is empty")
    return template


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local hours when no reminder goes out, e.g. 21:00-09:00 (crossing midnight)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """`HH:MM-HH:MM`, or None for an empty string (no quiet hours)."""
        text = text.strip()
        if not text:
            return None
        match = _HOURS.fullmatch(text)
        if match is None:
            raise ValueError(f"quiet hours {text!r}: write HH:MM-HH:MM, e.g. 21:00-09:00")
        a, b, c, d = (int(match.group(k)) for k in "abcd")
        if a > 23 or c > 23 or b > 59 or d > 59:
            raise ValueError(f"quiet hours {text!r}: not a time of day")
        start, end = time(a, b), time(c, d)
        if start == end:
            raise ValueError(f"quiet hours {text!r}: start and end are the same")
        return cls(start, end)

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class ReminderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=False,
        description=(
            "Embedded billing, job reminders: queue an SMS (through the outbox) to subscribers "
            "whose days left are at most days_left_threshold, or who are in debt."
        ),
    )
    days_left_threshold: int = Field(
        default=3, ge=0, le=365, description="Remind when this many days or fewer are left."
    )
    template: str = Field(
        default=(
            "{name}, на рахунку {balance} грн, днів залишилось: {days_left}. "
            "Поповніть рахунок, будь ласка."
        ),
        description=(
            "The SMS text, str.format style. Fields: {name} {login} {balance} {days_left} "
            "{fee} {credit} {tariff}."
        ),
    )
    quiet_hours: str = Field(
        default="21:00-09:00",
        description=(
            "Local hours when the job sends nothing (it defers to its next run outside them); "
            'HH:MM-HH:MM, "" for none.'
        ),
    )
    once_per: Literal["day", "week"] = Field(
        default="week",
        description=(
            "At most one reminder per subscriber per local day or per ISO week, even across "
            "restarts, manual runs and two instances."
        ),
    )

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        hours = QuietHours.parse(value)
        return "" if hours is None else str(hours)

    def hours(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours)
