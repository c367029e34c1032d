"""The scheduler's tables: the run history (which is also the claim on each tick) and the
lock that keeps a job from running twice at once, across every instance on the database.

`jobs_runs` has one row per (job, tick): an instance that inserts it (INSERT … ON
CONFLICT DO NOTHING) owns that tick, so a tick runs once however many instances share the
database; the row then records the run. `jobs_locks` has a row per job while it runs
(whichever tick): the next tick finding it is recorded as skipped, never run alongside.
A lock carries its expiry (the run's longest possible time, from the job's timeout and
retries): a lock left by an instance that died is taken over once it has expired, and the
run it belonged to is recorded as interrupted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base

RUNNING = "running"
OK = "ok"
FAILED = "failed"
TIMEOUT = "timeout"
SKIPPED = "skipped"
RESULTS = (OK, FAILED, TIMEOUT, SKIPPED)
"""What a finished run records (RUNNING while it goes)."""
FAILURES = frozenset({FAILED, TIMEOUT})


class JobRun(Base):
    """One run of a job: its tick (the scheduled instant; for `jobs run`, when it was
    asked), who ran it, how it ended. `attempts` 0: it did not run (the job was still
    running from an earlier tick)."""

    __tablename__ = "jobs_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    tick: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    instance: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[str] = mapped_column(Text, default="")
    counts: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("job", "tick", name="uq_jobs_runs_job_tick"),
        Index("ix_jobs_runs_job_started", "job", "started_at"),
        Index("ix_jobs_runs_started", "started_at"),
    )


class JobLock(Base):
    """A job running now: which run, on which instance, until when at most."""

    __tablename__ = "jobs_locks"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)
    instance: Mapped[str] = mapped_column(String(128))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
