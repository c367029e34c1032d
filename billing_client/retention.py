"""Which billing rows age out (job `retention`, kind `sms`): the log of reminders sent (the
messages themselves are the outbox's). Money never does: the audit journal and the fee
charges stay."""

from __future__ import annotations

from billing_client.models import ReminderSent
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [
        PruneTarget(
            "sms",
            ReminderSent,
            ReminderSent.sent_at,
            (ReminderSent.login, ReminderSent.period),
        )
    ]
