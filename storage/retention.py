"""Job `retention`: old rows go, in batches, by age and kind (`[retention]`).

Each component says which of its rows age out (`PruneTarget`: a table, the instant whose
age counts, and optionally a condition such as "finished" so that nothing still in
flight is ever pruned), under one of the kinds below; the settings say how many days each
kind is kept (0: forever). This module knows no component: the root hands it the list.

Rows are deleted `batch` at a time, each batch its own short transaction, so a year of
rows pruned the first time never holds a lock for long (SQLite has one writer) and a run
cut short has done part of the work, not none. What is never pruned: the audit journal
and the fee charges (money), the subscribers, campaigns and their numbers, the daily
missed-call statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute

from primitives.clock import Clock
from primitives.job_result import JobResult

JOB = "retention"

Column = ColumnElement[Any] | QueryableAttribute[Any]


class RetentionSettings(BaseModel):
    """`[retention]`: how long each kind of record is kept."""

    model_config = ConfigDict(extra="forbid")

    sms_days: int = Field(
        default=365,
        ge=0,
        description=(
            "Days received SMS, finished outgoing SMS (sent, delivered, failed, unknown) and "
            "the reminders-sent log are kept; 0: forever. Queued ones are never pruned."
        ),
    )
    campaign_attempts_days: int = Field(
        default=365,
        ge=0,
        description=(
            "Days finished call attempts of campaigns and callbacks are kept; 0: forever "
            "(each number's summary of the current run stays)."
        ),
    )
    call_log_days: int = Field(
        default=365,
        ge=0,
        description=(
            "Days the call log (every call, missed ones included) and the unsuccessful "
            "recall attempts are kept; 0: forever (the daily missed-call statistics stay)."
        ),
    )
    job_history_days: int = Field(
        default=90, ge=0, description="Days the scheduler's run history is kept; 0: forever."
    )
    batch: int = Field(default=1000, ge=10, le=100_000, description="Rows deleted per transaction.")

    def keep_days(self, kind: str) -> int:
        field = f"{kind}_days"
        if field not in type(self).model_fields:
            raise ValueError(f"no retention setting for the kind {kind!r} ({field})")
        days: int = getattr(self, field)
        return days


@dataclass(frozen=True)
class PruneTarget:
    """Rows of one table that age out: `at` older than the kind's days (and `only`, when
    given, true) are deleted; `key` is the primary key (one column or several)."""

    kind: str
    table: Any
    at: Column
    key: tuple[Column, ...]
    only: ColumnElement[bool] | None = None

    @property
    def name(self) -> str:
        return str(getattr(self.table, "__tablename__", self.table))


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    targets: Sequence[PruneTarget],
    settings: RetentionSettings,
) -> JobResult:
    """Delete what is older than its kind's days, batch by batch (job `retention`)."""
    for target in targets:
        settings.keep_days(target.kind)  # an unknown kind fails before anything is deleted
    counts: dict[str, int] = {}
    for target in targets:
        days = settings.keep_days(target.kind)
        if days == 0:
            continue
        cutoff = clock.now() - timedelta(days=days)
        counts[target.name] = counts.get(target.name, 0) + await _prune_one(
            sessions, target, cutoff, settings.batch
        )
    total = sum(counts.values())
    pruned = ", ".join(f"{name} {n}" for name, n in counts.items() if n) or "nothing"
    kept = sorted({t.kind for t in targets if settings.keep_days(t.kind) == 0})
    summary = f"pruned {total} row(s): {pruned}"
    if kept:
        summary += f"; kept forever: {', '.join(kept)}"
    return JobResult(summary, counts)


async def _prune_one(
    sessions: async_sessionmaker[AsyncSession], target: PruneTarget, cutoff: Any, batch: int
) -> int:
    conditions = [target.at < cutoff]
    if target.only is not None:
        conditions.append(target.only)
    key = target.key[0] if len(target.key) == 1 else tuple_(*target.key)
    oldest = select(*target.key).where(*conditions).limit(batch)
    total = 0
    while True:
        async with sessions.begin() as session:
            result = await session.execute(
                delete(target.table)
                .where(key.in_(oldest))
                .execution_options(synchronize_session=False)
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < batch:
            return total
