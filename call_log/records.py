"""What the call log hands out (`Call`) and what the recorder writes (`CallEntry`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from billing_client.subscriber import Status

Direction = Literal["incoming", "outgoing", "internal"]
DIRECTIONS: tuple[Direction, ...] = ("incoming", "outgoing", "internal")
DISPOSITIONS: tuple[str, ...] = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")


@dataclass(frozen=True, slots=True)
class CallEntry:
    """A complete call as the recorder decided it, before it is stored.

    `number` is the outside party's number (the caller of an incoming call, the callee of
    an outgoing one), E.164 when it parsed (`number_valid`); None for an internal call.
    `answered_by` is the channel that picked up (`PJSIP/104-0000002a`), `recording` the
    file MixMonitor wrote (MIXMONITOR_FILENAME). `missed` is missed_calls' verdict and
    `waited_seconds` how long a missed caller waited.
    """

    linkedid: str
    caller: str
    callee: str
    number: str | None
    number_valid: bool
    direction: Direction
    disposition: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration: int
    billsec: int
    queue: str | None = None
    queue_position: int | None = None
    answered_by: str | None = None
    recording: str | None = None
    missed: bool = False
    waited_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    """One recorded call. `login`/`name`/`status` are the subscriber of `number` (None when
    none has it, or while the billing could not be asked: `lookup` is then "pending").
    A missed call that was called back has `recalled_at` (the start of that call) and
    `recalled_by` (its linkedid)."""

    id: int
    linkedid: str
    caller: str
    callee: str
    number: str | None
    number_valid: bool
    direction: Direction
    disposition: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration: int
    billsec: int
    queue: str | None
    queue_position: int | None
    answered_by: str | None
    recording: str | None
    lookup: str
    login: str | None
    name: str | None
    status: Status | None
    missed: bool
    waited_seconds: int
    recalled_at: datetime | None
    recalled_by: str | None

    @property
    def answered(self) -> bool:
        return self.disposition == "ANSWERED"
