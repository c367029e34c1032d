"""Which missed-call rows age out (job `retention`, kind `call_log`): missed calls and
unsuccessful recall attempts, by when they happened. The daily statistics stay."""

from __future__ import annotations

from missed_calls.models import MissedCallRow, RecallAttemptRow
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [
        PruneTarget("call_log", MissedCallRow, MissedCallRow.at, (MissedCallRow.id,)),
        PruneTarget("call_log", RecallAttemptRow, RecallAttemptRow.at, (RecallAttemptRow.id,)),
    ]
