"""Reads and writes of the missed-calls tables. Each write is its own committed transaction."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.subscriber import Status, SubscriberInfo
from missed_calls.calls import Missed
from missed_calls.models import NAME_MAX, MissedCallRow, RecallAttemptRow
from missed_calls.records import DailyStats, MissedCall
from primitives.clock import Clock, as_utc

MAX_STATS_DAYS = 366


def _status(value: int | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        return Status.UNKNOWN


def to_record(row: MissedCallRow) -> MissedCall:
    return MissedCall(
        id=row.id,
        number=row.number,
        raw_number=row.raw_number,
        login=row.login,
        name=row.name,
        status=_status(row.status),
        queue=row.queue,
        at=as_utc(row.at),
        waited_seconds=row.waited_seconds,
        recalled_at=as_utc(row.recalled_at) if row.recalled_at is not None else None,
        recalled_by=row.recalled_by,
        linkedid=row.linkedid,
        number_valid=row.number_valid,
        queue_position=row.queue_position,
        lookup=row.lookup,
    )


class MissedCallStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # -- writes --------------------------------------------------------------------------

    async def insert(
        self, linkedid: str, missed: Missed, *, at: datetime, ended_at: datetime
    ) -> MissedCall | None:
        """Record a missed call, committed before returning; None when the linkedid is
        already recorded."""
        row = MissedCallRow(
            linkedid=linkedid,
            number=missed.number,
            raw_number=missed.raw_number,
            number_valid=missed.number_valid,
            lookup="pending" if missed.number_valid else "skipped",
            queue=missed.queue,
            queue_position=missed.queue_position,
            at=as_utc(at),
            ended_at=as_utc(max(at, ended_at)),
            waited_seconds=missed.waited_seconds,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                record = to_record(row)
        except IntegrityError:
            return None
        return record

    async def set_subscriber(
        self, call_id: int, subscriber: SubscriberInfo | None
    ) -> MissedCall | None:
        """The lookup's answer: a subscriber, or None for no subscriber with the number."""
        values: dict[str, object]
        if subscriber is None:
            values = {"lookup": "notfound", "login": None, "name": None, "status": None}
        else:
            values = {
                "lookup": "ok",
                "login": subscriber.login[:64],
                "name": subscriber.name[:NAME_MAX],
                "status": int(subscriber.status),
            }
        async with self._sessions.begin() as session:
            await session.execute(
                update(MissedCallRow).where(MissedCallRow.id == call_id).values(**values)
            )
            row = await session.get(MissedCallRow, call_id)
            return to_record(row) if row is not None else None

    async def mark_recalled(
        self, numbers: Iterable[str], *, at: datetime, by: str, window: timedelta
    ) -> int:
        """Open misses of `numbers` from the window before `at` are recalled by call `by`."""
        wanted = sorted(set(numbers))
        if not wanted:
            return 0
        at = as_utc(at)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(MissedCallRow)
                .where(
                    MissedCallRow.number.in_(wanted),
                    MissedCallRow.recalled_at.is_(None),
                    MissedCallRow.at <= at,
                    MissedCallRow.at >= at - window,
                    MissedCallRow.linkedid != by,
                )
                .values(recalled_at=at, recalled_by=by)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def record_attempts(
        self, numbers: Iterable[str], *, at: datetime, by: str, window: timedelta
    ) -> int:
        """An unanswered call `by` tried `numbers`: one attempt per number with an open miss."""
        wanted = sorted(set(numbers))
        if not wanted:
            return 0
        at = as_utc(at)
        try:
            async with self._sessions.begin() as session:
                open_numbers = set(
                    await session.scalars(
                        select(MissedCallRow.number)
                        .where(
                            MissedCallRow.number.in_(wanted),
                            MissedCallRow.recalled_at.is_(None),
                            MissedCallRow.at <= at,
                            MissedCallRow.at >= at - window,
                        )
                        .distinct()
                    )
                )
                known = set(
                    await session.scalars(
                        select(RecallAttemptRow.number).where(
                            RecallAttemptRow.linkedid == by,
                            RecallAttemptRow.number.in_(wanted),
                        )
                    )
                )
                new = sorted(open_numbers - known)
                session.add_all(RecallAttemptRow(linkedid=by, number=n, at=at) for n in new)
        except IntegrityError:  # the same call recorded meanwhile by another process
            return 0
        return len(new)

    # -- reads ---------------------------------------------------------------------------

    def _day_bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """UTC instants of the first day's local midnight and the midnight after `last`."""
        tz = self._clock.tz
        start = datetime.combine(first, time.min, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
        return start, end

    async def list(self, day: date, *, only_open: bool = False) -> builtins.list[MissedCall]:
        start, end = self._day_bounds(day, day)
        query = select(MissedCallRow).where(MissedCallRow.at >= start, MissedCallRow.at < end)
        if only_open:
            query = query.where(MissedCallRow.recalled_at.is_(None))
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(MissedCallRow.at, MissedCallRow.id))
            return [to_record(r) for r in rows]

    async def page(
        self,
        limit: int,
        *,
        before: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        recalled: bool | None = None,
        number: str | None = None,
    ) -> builtins.list[MissedCall]:
        """Missed calls newest first (by id, the order they were recorded): ids below
        `before`, started in [since, until) (UTC), recalled or still open when asked, of
        one `number` (as stored: E.164) when given."""
        query = select(MissedCallRow).order_by(MissedCallRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(MissedCallRow.id < before)
        if since is not None:
            query = query.where(MissedCallRow.at >= since)
        if until is not None:
            query = query.where(MissedCallRow.at < until)
        if recalled is not None:
            query = query.where(
                MissedCallRow.recalled_at.is_not(None)
                if recalled
                else MissedCallRow.recalled_at.is_(None)
            )
        if number is not None:
            query = query.where(MissedCallRow.number == number)
        async with self._sessions() as session:
            return [to_record(r) for r in await session.scalars(query)]

    async def pending_lookups(self, limit: int) -> builtins.list[tuple[int, str]]:
        """Missed calls whose subscriber is still to be asked, newest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(MissedCallRow.id, MissedCallRow.number)
                .where(MissedCallRow.lookup == "pending")
                .order_by(MissedCallRow.at.desc())
                .limit(limit)
            )
            return [(r.id, r.number) for r in rows]

    async def stats(self, days: int) -> builtins.list[DailyStats]:
        """The last `days` local days, today included, oldest first; days without a miss
        are there with zeros. Computed from the rows, so nothing can drift."""
        if not 1 <= days <= MAX_STATS_DAYS:
            raise ValueError(f"days must be 1..{MAX_STATS_DAYS}, not {days}")
        today = self._clock.today()
        first = today - timedelta(days=days - 1)
        start, end = self._day_bounds(first, today)
        async with self._sessions() as session:
            missed = (
                await session.execute(
                    select(MissedCallRow.at, MissedCallRow.number, MissedCallRow.recalled_at).where(
                        MissedCallRow.at >= start, MissedCallRow.at < end
                    )
                )
            ).all()
            attempts = (
                await session.scalars(
                    select(RecallAttemptRow.at).where(
                        RecallAttemptRow.at >= start, RecallAttemptRow.at < end
                    )
                )
            ).all()
        per_day: dict[date, list[tuple[str, datetime | None, datetime]]] = defaultdict(list)
        for stored_at, number, recalled_at in missed:
            at = as_utc(stored_at)
            per_day[self._clock.local(at).date()].append(
                (number, as_utc(recalled_at) if recalled_at else None, at)
            )
        failed: dict[date, int] = defaultdict(int)
        for attempt_at in attempts:
            failed[self._clock.local(attempt_at).date()] += 1
        out: builtins.list[DailyStats] = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            calls = per_day.get(day, [])
            waits = [(r - at).total_seconds() for _, r, at in calls if r is not None]
            out.append(
                DailyStats(
                    day=day,
                    missed=len(calls),
                    recalled=len(waits),
                    unsuccessful_attempts=failed.get(day, 0),
                    average_recall_seconds=(
                        round(max(sum(waits), 0.0) / len(waits), 1) if waits else None
                    ),
                    missed_numbers=len({n for n, _, _ in calls}),
                )
            )
        return out
