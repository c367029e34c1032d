"""The event kinds a webhook can ask for, and the one callable that emits them.

    sms.received       an inbound SMS was stored (after the sender lookup)
    call.missed        a missed call was recorded (after the caller lookup)
    call.answered      an answered call was recorded in the call log
    callback.finished  a callback's call ended for good: answered or given up
    campaign.finished  a campaign's run ended (every number answered or given up)
    test               `pbxbridge webhooks test NAME` (sent at once, never queued)

A payload is a JSON object of plain values (str, int, float, bool, None, datetimes as ISO
8601 UTC); its fields per kind are in the README's Webhooks section.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any, Protocol

SMS_RECEIVED = "sms.received"
CALL_MISSED = "call.missed"
CALL_ANSWERED = "call.answered"
CALLBACK_FINISHED = "callback.finished"
CAMPAIGN_FINISHED = "campaign.finished"
TEST = "test"

KINDS: tuple[str, ...] = (
    SMS_RECEIVED,
    CALL_MISSED,
    CALL_ANSWERED,
    CALLBACK_FINISHED,
    CAMPAIGN_FINISHED,
)
"""The kinds a `[[webhooks]]` entry may list in `events` (`test` is never queued)."""


class Emit(Protocol):
    """What a part that has news calls (`Webhooks.emit`): the rows queued (0 when no
    webhook wants the kind). Committed before it returns; raises WebhookError for a kind
    that is not in KINDS, and the database's error when the outbox cannot be written."""

    def __call__(
        self, kind: str, payload: Mapping[str, Any], *, occurred_at: datetime | None = None
    ) -> Awaitable[int]: ...
