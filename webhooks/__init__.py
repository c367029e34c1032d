"""Webhooks: signed JSON POSTs to the ISP's own web servers when something happens here.

An event (an SMS came in, a call was missed or answered, a callback or a campaign ended)
is `emit`ted: one row per webhook that wants its kind goes into a persistent outbox, and
one worker delivers them, in order per (webhook, event kind), with retries and backoff,
across restarts, each with a delivery id the receiver deduplicates on. The rooms know
nothing of this: the root turns their existing hooks into `emit` calls.

`webhooks.service.Webhooks` (which imports aiohttp's client) is imported from its module.
"""

from webhooks.events import (
    CALL_ANSWERED,
    CALL_MISSED,
    CALLBACK_FINISHED,
    CAMPAIGN_FINISHED,
    KINDS,
    SMS_RECEIVED,
    TEST,
    Emit,
)

__all__ = [
    "CALLBACK_FINISHED",
    "CALL_ANSWERED",
    "CALL_MISSED",
    "CAMPAIGN_FINISHED",
    "KINDS",
    "SMS_RECEIVED",
    "TEST",
    "Emit",
]
