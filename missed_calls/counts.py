"""Missed calls recorded and recalled, all time (for /metrics).

Counted over the call log's missed rows. Both grow and are exposed as counters; the call
log's retention (`retention.call_log_days`) prunes old calls, which Prometheus reads as a
counter reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from call_log.models import CallRow
from missed_calls.store import MISSED


@dataclass(frozen=True, slots=True)
class MissedCounts:
    missed: int
    recalled: int
    """Of those, the ones called back (by staff or by the caller ringing again)."""


async def missed_counts(sessions: async_sessionmaker[AsyncSession]) -> MissedCounts:
    async with sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.count(CallRow.recalled_at))
                .select_from(CallRow)
                .where(MISSED)
            )
        ).one()
    return MissedCounts(missed=int(row[0]), recalled=int(row[1]))
