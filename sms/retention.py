"""Which SMS rows age out (job `retention`, kind `sms`): received messages and their parts,
outgoing messages once final (never a queued or sending one)."""

from __future__ import annotations

from sms.models import InboxPartRow, InboxRow, OutboxRow
from sms.types import FINAL_STATES
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [
        PruneTarget("sms", InboxRow, InboxRow.received_at, (InboxRow.id,)),
        PruneTarget("sms", InboxPartRow, InboxPartRow.received_at, (InboxPartRow.id,)),
        PruneTarget(
            "sms",
            OutboxRow,
            OutboxRow.created_at,
            (OutboxRow.id,),
            OutboxRow.state.in_(sorted(FINAL_STATES)),
        ),
    ]
