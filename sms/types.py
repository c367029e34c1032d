"""What the SMS component hands to others: inbound messages, stored rows and outbox states.

Kept free of database and AMI imports so that the FastAGI route and the root can use
these types without pulling in the rest of the component.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

Driver = Literal["dongle", "quectel", "pjsip"]
"""The channel driver an SMS came in on, and the transport its reply goes out by."""
DRIVERS: tuple[Driver, ...] = ("dongle", "quectel", "pjsip")

InboundSource = Literal["base64", "lines", "agi", "pjsip", "reassembled"]
"""Where an inbound text came from. `lines` (DongleNewSMS) loses empty lines; a later exact
copy (base64) of the same message replaces its text."""


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One part of a concatenated SMS, from the UDH of the raw PDU (`*NewCMGR`)."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An SMS as it arrived, before it is stored.

    `device` is the modem (chan_dongle/chan_quectel device name) or `pjsip[:<endpoint>]`
    for a SIP MESSAGE; `sender` is the originator as the channel gave it (a number, maybe an
    alphanumeric name); `part` is set only for one part of a multipart message; `driver` is
    the channel driver it came from, None when that cannot be known.
    """

    device: str
    sender: str
    text: str
    source: InboundSource
    part: PartInfo | None = None
    driver: Driver | None = None


@dataclass(frozen=True, slots=True)
class StoredSms:
    """An inbox row. `sender` is E.164 when it parsed as a phone number, else as received.

    `duplicate` is True when this arrival was folded into an earlier row (same device,
    sender and text within the dedupe window): the row shown is the earlier one.
    """

    id: int
    received_at: datetime
    device: str
    sender: str
    text: str
    source: str
    driver: str | None
    parts: int
    parts_missing: int
    login: str | None
    name: str | None
    lookup: str
    reply_id: int | None
    duplicate: bool = False


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"


FINAL_STATES = frozenset(
    {OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.UNKNOWN}
)
"""States reported through `on_final` (sent may still become delivered or failed later,
through a delivery report; unknown may still be settled by a late report)."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An outbox row. Long texts split for single-PDU modems are rows of one group:
    `group_id` is the first row's id, `part_no` counts from 1 up to `part_count`."""

    id: int
    created_at: datetime
    updated_at: datetime
    actor: str
    number: str
    text: str
    transport: str
    device: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    action_id: str | None
    modem_id: str | None
    group_id: int
    part_no: int
    part_count: int
    transliterated: bool
    reply_to: int | None


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """What the running service's outbox worker last said about itself (its heartbeat).

    `ready` is whether it could send (the AMI link was up) and `ready_since` when that last
    changed; `running` is False once the worker stopped cleanly. A worker that died
    (kill -9, power) says nothing: its `seen_at` simply gets old.
    """

    seen_at: datetime
    running: bool
    ready: bool
    ready_since: datetime

    def alive(self, now: datetime, stale_after: float) -> bool:
        """Running, and heard from within `stale_after` seconds of `now`."""
        return self.running and (now - self.seen_at).total_seconds() <= stale_after


OnStored = Callable[[StoredSms], Awaitable[None]]
OnFinal = Callable[[OutboxMessage], Awaitable[None]]
InboundHandler = Callable[[InboundSms], Awaitable[StoredSms | None]]
"""What the FastAGI route `sms_in` stores through (`sms.sms_in.build_handlers`): `Inbox.receive`."""
