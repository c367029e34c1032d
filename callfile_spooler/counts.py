"""How many call attempts are in each status (for /metrics): queued, spooled and dialing
are calls waiting or under way; the rest are outcomes (answered, busy, noanswer …).

One grouped query over `spool_attempts` (indexed by status). Attempts go when their
campaign is deleted, so these are gauges of what the database holds, not lifetime totals.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfile_spooler.models import Attempt
from callfile_spooler.outcomes import AttemptStatus

OTHER = "other"


async def attempt_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Attempts by status; every status present (0 when none), unknown ones as `other`."""
    counts = {status.value: 0 for status in AttemptStatus}
    async with sessions() as session:
        rows = await session.execute(select(Attempt.status, func.count()).group_by(Attempt.status))
        for status, count in rows:
            key = status if status in counts else OTHER
            counts[key] = counts.get(key, 0) + count
    return counts
