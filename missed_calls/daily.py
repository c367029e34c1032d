"""Job `missed_stats`: a row of missed-call statistics per local day (`missed_calls_daily`).

WhyDoYouCall's `whydoyoucallstats` action inserts one `wdycinfo` row a day: the date, the
missed count, the recalled count, unsuccessful recall attempts, the missed numbers and the
total time to reaction. This job writes the same for each of the last `days` local days
(today included), computed from the missed calls as `MissedCallStore.stats` computes them,
with an upsert on the day: rerunning it updates the row, and yesterday's row picks up the
misses recalled this morning. Run it late in the evening (and it fixes the day before too).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from missed_calls.models import DailyStatsRow
from missed_calls.records import DailyStats, MissedCall
from missed_calls.store import MissedCallStore
from primitives.clock import Clock
from primitives.job_result import JobResult
from storage.upsert import insert_for

JOB = "missed_stats"


def day_row(stats: DailyStats, calls: list[MissedCall], now: datetime) -> dict[str, object]:
    """The `missed_calls_daily` values of one day."""
    numbers = sorted({c.number for c in calls if c.number_valid})
    waits = [c.seconds_to_recall for c in calls if c.seconds_to_recall is not None]
    return {
        "day": stats.day,
        "missed": stats.missed,
        "recalled": stats.recalled,
        "unsuccessful": stats.unsuccessful_attempts,
        "distinct_numbers": stats.missed_numbers,
        "missed_numbers": " ".join(numbers),
        "total_recall_seconds": sum(waits),
        "average_recall_seconds": stats.average_recall_seconds,
        "updated_at": now,
    }


async def missed_stats(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, *, days: int = 2
) -> JobResult:
    """Write (or rewrite) the statistics rows of the last `days` local days (1 to 366)."""
    store = MissedCallStore(sessions, clock)
    stats = await store.stats(days)
    now = clock.now()
    rows = [day_row(s, await store.list(s.day), now) for s in stats]
    async with sessions.begin() as session:
        for row in rows:
            statement = insert_for(session, DailyStatsRow).values(**row)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["day"],
                    set_={k: statement.excluded[k] for k in row if k != "day"},
                )
            )
    last = stats[-1]
    summary = (
        f"{_span(stats[0].day, last.day)}: today {last.missed} missed, {last.recalled} "
        f"recalled, {last.unsuccessful_attempts} unsuccessful recall(s)"
    )
    return JobResult(
        summary,
        {
            "days": len(stats),
            "missed": last.missed,
            "recalled": last.recalled,
            "unsuccessful": last.unsuccessful_attempts,
        },
    )


def _span(first: date, last: date) -> str:
    return str(last) if first == last else f"{first}..{last}"
