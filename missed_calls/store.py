"""Missed calls: a view of the call log (rows of `calls` with `missed` true), their
recall marking, unsuccessful recall attempts and daily statistics. Each write is its own
committed transaction."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.subscriber import SubscriberInfo
from call_log.models import CallRow
from call_log.records import Call, CallEntry
from call_log.store import CallLogStore, day_bounds, to_call
from missed_calls.calls import Missed
from missed_calls.models import RecallAttemptRow
from missed_calls.records import DailyStats, MissedCall
from primitives.clock import Clock, as_utc

MAX_STATS_DAYS = 366
MISSED: ColumnElement[bool] = CallRow.missed.is_(True)


def to_record(call: Call) -> MissedCall:
    """The missed-call view of a call of the log."""
    return MissedCall(
        id=call.id,
        number=call.number or call.caller,
        raw_number=call.caller,
        login=call.login,
        name=call.name,
        status=call.status,
        queue=call.queue,
        at=call.started_at,
        waited_seconds=call.waited_seconds,
        recalled_at=call.recalled_at,
        recalled_by=call.recalled_by,
        linkedid=call.linkedid,
        number_valid=call.number_valid,
        queue_position=call.queue_position,
        lookup=call.lookup,
    )


def missed_entry(
    linkedid: str, missed: Missed, *, at: datetime, ended_at: datetime, callee: str = ""
) -> CallEntry:
    """A missed call as the call log keeps it, from what the verdict knows."""
    return CallEntry(
        linkedid=linkedid,
        caller=missed.raw_number,
        callee=callee or missed.queue or "",
        number=missed.number,
        number_valid=missed.number_valid,
        direction="incoming",
        disposition="NO ANSWER",
        started_at=at,
        answered_at=None,
        ended_at=ended_at,
        duration=max(int((ended_at - at).total_seconds()), missed.waited_seconds, 0),
        billsec=0,
        queue=missed.queue,
        queue_position=missed.queue_position,
        missed=True,
        waited_seconds=missed.waited_seconds,
    )


class MissedCallStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self.log = CallLogStore(sessions, clock)

    # -- writes --------------------------------------------------------------------------

    async def insert(
        self, linkedid: str, missed: Missed, *, at: datetime, ended_at: datetime
    ) -> MissedCall | None:
        """Record a missed call in the call log, committed before returning; None when the
        linkedid is already recorded."""
        call = await self.log.insert(missed_entry(linkedid, missed, at=at, ended_at=ended_at))
        return to_record(call) if call is not None else None

    async def set_subscriber(
        self, call_id: int, subscriber: SubscriberInfo | None
    ) -> MissedCall | None:
        """The lookup's answer: a subscriber, or None for no subscriber with the number."""
        call = await self.log.set_subscriber(call_id, subscriber)
        return to_record(call) if call is not None else None

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
                update(CallRow)
                .where(
                    MISSED,
                    CallRow.number.in_(wanted),
                    CallRow.recalled_at.is_(None),
                    CallRow.started_at <= at,
                    CallRow.started_at >= at - window,
                    CallRow.linkedid != by,
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
                open_numbers: set[str | None] = set(
                    await session.scalars(
                        select(CallRow.number)
                        .where(
                            MISSED,
                            CallRow.number.in_(wanted),
                            CallRow.recalled_at.is_(None),
                            CallRow.started_at <= at,
                            CallRow.started_at >= at - window,
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
                new = sorted(n for n in open_numbers - known if n is not None)
                session.add_all(RecallAttemptRow(linkedid=by, number=n, at=at) for n in new)
        except IntegrityError:  # the same call recorded meanwhile by another process
            return 0
        return len(new)

    # -- reads ---------------------------------------------------------------------------

    async def list(self, day: date, *, only_open: bool = False) -> builtins.list[MissedCall]:
        start, end = day_bounds(self._clock, day, day)
        query = select(CallRow).where(MISSED, CallRow.started_at >= start, CallRow.started_at < end)
        if only_open:
            query = query.where(CallRow.recalled_at.is_(None))
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(CallRow.started_at, CallRow.id))
            return [to_record(to_call(r)) for r in rows]

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
        calls = await self.log.page(
            limit,
            before=before,
            since=since,
            until=until,
            numbers=[number] if number is not None else (),
            missed=True,
            recalled=recalled,
        )
        return [to_record(c) for c in calls]

    async def pending_lookups(self, limit: int) -> builtins.list[tuple[int, str]]:
        """Missed calls whose subscriber is still to be asked, newest first."""
        return await self.log.pending_lookups(limit, missed_only=True)

    async def stats(self, days: int) -> builtins.list[DailyStats]:
        """The last `days` local days, today included, oldest first; days without a miss
        are there with zeros. Computed from the rows, so nothing can drift."""
        if not 1 <= days <= MAX_STATS_DAYS:
            raise ValueError(f"days must be 1..{MAX_STATS_DAYS}, not {days}")
        today = self._clock.today()
        first = today - timedelta(days=days - 1)
        start, end = day_bounds(self._clock, first, today)
        async with self._sessions() as session:
            missed = (
                await session.execute(
                    select(CallRow.started_at, CallRow.number, CallRow.recalled_at).where(
                        MISSED, CallRow.started_at >= start, CallRow.started_at < end
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
            if number is None:  # a missed call always has one; the column allows none
                continue
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
