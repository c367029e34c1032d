"""Which spooler rows age out (job `retention`, kind `campaign_attempts`): call attempts
that are over (never one queued or in Asterisk's hands), by the time they were due."""

from __future__ import annotations

from callfile_spooler.models import Attempt
from callfile_spooler.outcomes import FINAL
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [
        PruneTarget(
            "campaign_attempts",
            Attempt,
            Attempt.not_before,
            (Attempt.id,),
            Attempt.status.in_(sorted(FINAL)),
        )
    ]
