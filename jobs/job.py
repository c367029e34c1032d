"""A job as the scheduler runs it: its name, schedule, body and how it may be retried."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jobs.cron import CronSchedule
from primitives.backoff import Backoff
from primitives.job_result import JobResult

Body = Callable[[], Awaitable[JobResult]]
"""The job's work: a coroutine function returning a JobResult, raising when it failed."""

GRACE = 60.0
"""Seconds a run's lock outlives its longest possible run (recording it, a slow database)."""
RETRY_DELAY = 60.0
RETRY_DELAY_MAX = 900.0


@dataclass(frozen=True)
class Job:
    name: str
    schedule: CronSchedule
    body: Body
    timeout: float
    """Seconds one attempt may take; then it is cancelled and recorded as a timeout."""
    attempts: int = 1
    retry: Backoff = field(default_factory=lambda: Backoff(RETRY_DELAY, RETRY_DELAY_MAX))
    """Waits between tries (`delay_for(n)` after the n-th failed one)."""
    enabled: bool = True
    idempotent: bool = True
    """A retry after a failure that may have done part of the work is harmless."""
    about: str = ""
    off_because: str = ""
    """Why a default job is off (shown by `jobs list`)."""
    action: str | None = None
    """Ubilling: the remoteapi action this job sends."""

    def bound(self) -> float:
        """The longest a run can take (every attempt timing out, every wait between): how
        long its lock holds before another instance may take the job over."""
        waits = sum(self.retry.delay_for(n) for n in range(1, self.attempts))
        return self.attempts * self.timeout + waits + GRACE
