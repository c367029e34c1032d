"""What other components tell staff about: plain data, so notify imports no other component.

The root turns its own events (an AMI missed call, an inbound SMS, a link change, an SMS
that could not be sent, an alert) into these and hands them to `StaffNotifier.notify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MissedCallNotice:
    """A call nobody answered. `status` is Ubilling's userstatus code (0–3) when known."""

    number: str
    login: str | None
    name: str | None
    status: int | None
    queue: str | None
    at: datetime
    waited_seconds: int | None


@dataclass(frozen=True, slots=True)
class InboundSmsNotice:
    """An SMS that reached one of the PBX's modems (`device`, e.g. the dongle name)."""

    sender: str
    login: str | None
    name: str | None
    text: str
    device: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LinkNotice:
    """A link to another system went down or came back (`link` e.g. "AMI")."""

    link: str
    up: bool
    detail: str


@dataclass(frozen=True, slots=True)
class SmsFailedNotice:
    """An outgoing SMS that will not be delivered (`message_id`: its outbox id)."""

    number: str
    text: str
    reason: str
    message_id: int


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """Something staff must look at, in the words of the part that saw it: a money move
    Ubilling did not apply, the billing down or back, the call-file spooler stopped."""

    text: str


@dataclass(frozen=True, slots=True)
class LockoutNotice:
    """A number and/or login locked out of self-service after repeated wrong pay cards or
    PINs (`reason`: the last failure, in words). `until` is in the service's timezone."""

    number: str | None
    login: str | None
    failures: int
    until: datetime
    reason: str


Notice = (
    MissedCallNotice | InboundSmsNotice | LinkNotice | SmsFailedNotice | AlertNotice | LockoutNotice
)
