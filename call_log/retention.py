"""Which call-log rows age out (job `retention`, kind `call_log`): calls, missed ones
included, by when they began. missed_calls' daily statistics stay."""

from __future__ import annotations

from call_log.models import CallRow
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [PruneTarget("call_log", CallRow, CallRow.started_at, (CallRow.id,))]
