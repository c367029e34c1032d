"""What a periodic job hands back to whoever ran it (the scheduler records it in its history).

A job is a plain async function taking what it needs explicitly (sessions, clock, settings,
the outbox…) and returning a `JobResult`: a one-line summary a person reads in the history
or the CLI, and counts a machine can compare between runs. A job that fails raises; a job
that chose to do nothing (quiet hours, a feature turned off, PostgreSQL for a SQLite backup)
returns `skipped=True` with the reason in the summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SUMMARY_MAX = 300


@dataclass(frozen=True, slots=True)
class JobResult:
    summary: str
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    skipped: bool = False

    def __post_init__(self) -> None:
        line = " ".join(self.summary.split())[:SUMMARY_MAX]
        object.__setattr__(self, "summary", line)
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
