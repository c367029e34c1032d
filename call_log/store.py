"""Reads and writes of the call log. Each write is its own committed transaction."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.subscriber import Status, SubscriberInfo
from call_log.models import NAME_MAX, CallRow
from call_log.records import Call, CallEntry, Direction
from primitives.clock import Clock, as_utc


def _status(value: int | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        return Status.UNKNOWN


def _direction(value: str) -> Direction:
    if value == "outgoing":
        return "outgoing"
    if value == "internal":
        return "internal"
    return "incoming"


def _maybe_utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def to_call(row: CallRow) -> Call:
    return Call(
        id=row.id,
        linkedid=row.linkedid,
        caller=row.caller,
        callee=row.callee,
        number=row.number,
        number_valid=row.number_valid,
        direction=_direction(row.direction),
        disposition=row.disposition,
        started_at=as_utc(row.started_at),
        answered_at=_maybe_utc(row.answered_at),
        ended_at=as_utc(row.ended_at),
        duration=row.duration,
        billsec=row.billsec,
        queue=row.queue,
        queue_position=row.queue_position,
        answered_by=row.answered_by,
        recording=row.recording,
        lookup=row.lookup,
        login=row.login,
        name=row.name,
        status=_status(row.status),
        missed=row.missed,
        waited_seconds=row.waited_seconds,
        recalled_at=_maybe_utc(row.recalled_at),
        recalled_by=row.recalled_by,
    )


def _with_number(numbers: Sequence[str]) -> ColumnElement[bool]:
    """One of `numbers` is the call's caller, callee or outside party."""
    wanted = sorted(set(numbers))
    return CallRow.number.in_(wanted) | CallRow.caller.in_(wanted) | CallRow.callee.in_(wanted)


def day_bounds(clock: Clock, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants of the first local day's midnight and of the midnight after `last`."""
    tz = clock.tz
    start = datetime.combine(first, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


class CallLogStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- writes --------------------------------------------------------------------------

    async def insert(self, entry: CallEntry) -> Call | None:
        """Record a call, committed before returning; None when its linkedid is already
        recorded."""
        values = asdict(entry)
        started = as_utc(entry.started_at)
        values["started_at"] = started
        values["ended_at"] = max(started, as_utc(entry.ended_at))
        values["answered_at"] = _maybe_utc(entry.answered_at)
        row = CallRow(
            **values,
            lookup="pending" if entry.number is not None and entry.number_valid else "skipped",
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                return to_call(row)
        except IntegrityError:
            return None

    async def set_subscriber(self, call_id: int, subscriber: SubscriberInfo | None) -> Call | None:
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
        statement = update(CallRow).where(CallRow.id == call_id).values(**values)
        async with self._sessions.begin() as session:
            row = await session.scalar(statement.returning(CallRow))
            return to_call(row) if row is not None else None

    # -- reads ---------------------------------------------------------------------------

    async def get(self, call_id: int) -> Call | None:
        async with self._sessions() as session:
            row = await session.get(CallRow, call_id)
            return to_call(row) if row is not None else None

    async def pending_lookups(
        self, limit: int, *, missed_only: bool = False
    ) -> builtins.list[tuple[int, str]]:
        """Calls whose subscriber is still to be asked, newest first."""
        query = select(CallRow.id, CallRow.number).where(
            CallRow.lookup == "pending", CallRow.number.is_not(None)
        )
        if missed_only:
            query = query.where(CallRow.missed.is_(True))
        async with self._sessions() as session:
            rows = await session.execute(
                query.order_by(CallRow.started_at.desc(), CallRow.id.desc()).limit(limit)
            )
            return [(r.id, r.number) for r in rows if r.number is not None]

    async def days(
        self, first: date, last: date, *, numbers: Sequence[str] = ()
    ) -> builtins.list[Call]:
        """Calls that began on the local days `first`..`last`, oldest first; with one of
        `numbers` when given (see `page`)."""
        start, end = day_bounds(self._clock, first, last)
        query = (
            select(CallRow)
            .where(CallRow.started_at >= start, CallRow.started_at < end)
            .order_by(CallRow.started_at, CallRow.id)
        )
        if numbers:
            query = query.where(_with_number(numbers))
        async with self._sessions() as session:
            return [to_call(r) for r in await session.scalars(query)]

    async def by_linkedid(self, linkedids: builtins.list[str]) -> dict[str, Call]:
        if not linkedids:
            return {}
        query = select(CallRow).where(CallRow.linkedid.in_(sorted(set(linkedids))))
        async with self._sessions() as session:
            return {r.linkedid: to_call(r) for r in await session.scalars(query)}

    async def page(
        self,
        limit: int,
        *,
        before: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        numbers: Sequence[str] = (),
        direction: str | None = None,
        disposition: str | None = None,
        missed: bool | None = None,
        recalled: bool | None = None,
    ) -> builtins.list[Call]:
        """Calls newest first (by id, the order they were recorded): ids below `before`,
        begun in [since, until) (UTC), with one of `numbers` as caller, callee or outside
        party (pass the number as typed and its E.164 form), of one direction and one
        disposition when given; missed or not, recalled or not when asked."""
        query = select(CallRow).order_by(CallRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(CallRow.id < before)
        if since is not None:
            query = query.where(CallRow.started_at >= since)
        if until is not None:
            query = query.where(CallRow.started_at < until)
        if numbers:
            query = query.where(_with_number(numbers))
        if direction is not None:
            query = query.where(CallRow.direction == direction)
        if disposition is not None:
            query = query.where(CallRow.disposition == disposition)
        if missed is not None:
            query = query.where(CallRow.missed.is_(missed))
        if recalled is not None:
            recall = CallRow.recalled_at
            query = query.where(recall.is_not(None) if recalled else recall.is_(None))
        async with self._sessions() as session:
            return [to_call(r) for r in await session.scalars(query)]

    async def count_since(self, since: datetime) -> int:
        async with self._sessions() as session:
            found = await session.scalar(
                select(func.count()).select_from(CallRow).where(CallRow.started_at >= since)
            )
        return int(found or 0)
