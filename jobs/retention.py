"""Which scheduler rows age out (job `retention`, kind `job_history`): finished runs, by when
they started. A run still going (and so its lock) is never pruned."""

from __future__ import annotations

from jobs.models import RUNNING, JobRun
from storage.retention import PruneTarget


def prune_targets() -> list[PruneTarget]:
    return [
        PruneTarget(
            "job_history", JobRun, JobRun.started_at, (JobRun.id,), JobRun.result != RUNNING
        )
    ]
