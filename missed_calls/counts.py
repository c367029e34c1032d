"""Missed calls recorded and recalled, all time (for /metrics).

Nothing deletes a missed call today, so both only grow and are exposed as counters; were a
retention added, Prometheus would read the drop as a counter reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from missed_calls.models import MissedCallRow


@dataclass(frozen=True, slots=True)
class MissedCounts:
    missed: int
    recalled: int
    """Of those, the ones called back (by staff or by the caller ringing again)."""


async def missed_counts(sessions: async_sessionmaker[AsyncSession]) -> MissedCounts:
    async with sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.count(MissedCallRow.recalled_at)).select_from(
                    MissedCallRow
                )
            )
        ).one()
    return MissedCounts(missed=int(row[0]), recalled=int(row[1]))
