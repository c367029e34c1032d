"""Which missed-call rows age out (job `retention`, kind `call_log`): unsuccessful recall
attempts, by when they happened. Missed calls are calls of the log and age out with it
(call_log/retention.py); the daily statistics stay."""

from __future__ import annotations

from missed_calls.models import RecallAttemptRow
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [
        PruneTarget("call_log", RecallAttemptRow, RecallAttemptRow.at, (RecallAttemptRow.id,)),
    ]
