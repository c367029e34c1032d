"""Hooking the inbox and the outbox to the AMI client (called by the root, `pbxbridge/app.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from ami_listener.message import AmiMessage
from sms.events import INBOUND_EVENTS, REPORT_EVENTS
from sms.inbox import Inbox
from sms.outbox import Outbox


class AmiEvents(Protocol):
    """The one thing this needs from the AMI client (`AmiClient.on_event`)."""

    def on_event(self, name: str, callback: Callable[[AmiMessage], Awaitable[None]]) -> None: ...


def subscribe(ami: AmiEvents, inbox: Inbox | None, outbox: Outbox | None) -> None:
    """Inbound SMS events to `inbox.handle_event`, delivery reports to
    `outbox.handle_report` (chan_dongle and chan_quectel names alike)."""
    if inbox is not None:
        for name in INBOUND_EVENTS:
            ami.on_event(name, inbox.handle_event)
    if outbox is not None:
        for name in REPORT_EVENTS:
            ami.on_event(name, outbox.handle_report)
