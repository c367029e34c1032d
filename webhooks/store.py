"""Every read and write of the outbox (the service keeps the order of the steps)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import as_utc
from webhooks.models import DELIVERED, ERROR_MAX, GIVEN_UP, PENDING, OutboxRow

PRUNE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Head:
    """The oldest pending row of one (webhook, kind) queue: the only one that may go."""

    id: int
    delivery_id: str
    webhook: str
    kind: str
    body: str
    created_at: datetime
    next_attempt_at: datetime
    claimed_until: datetime | None
    attempts: int

    def due_at(self) -> datetime:
        """When it may be tried: its retry time, or the end of a lease still held."""
        if self.claimed_until is not None and self.claimed_until > self.next_attempt_at:
            return self.claimed_until
        return self.next_attempt_at


@dataclass(frozen=True, slots=True)
class Summary:
    """One webhook's rows, for `webhooks list`."""

    pending: int = 0
    given_up: int = 0
    delivered: int = 0
    last_delivered_at: datetime | None = None
    last_given_up_at: datetime | None = None
    last_error: str = ""


class OutboxStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @staticmethod
    async def pending_counts(session: AsyncSession, names: Sequence[str]) -> dict[str, int]:
        rows = await session.execute(
            select(OutboxRow.webhook, func.count())
            .where(OutboxRow.state == PENDING, OutboxRow.webhook.in_(list(names)))
            .group_by(OutboxRow.webhook)
        )
        return {str(name): int(count) for name, count in rows}

    async def heads(self, names: Sequence[str]) -> list[Head]:
        """The head of every queue of the webhooks `names` (rows of a webhook no longer
        configured stay where they are)."""
        first = (
            select(func.min(OutboxRow.id))
            .where(OutboxRow.state == PENDING, OutboxRow.webhook.in_(list(names)))
            .group_by(OutboxRow.webhook, OutboxRow.kind)
        )
        async with self.sessions() as session:
            rows = await session.scalars(
                select(OutboxRow).where(OutboxRow.id.in_(first)).order_by(OutboxRow.id)
            )
            return [_head(r) for r in rows]

    async def head_of(self, webhook: str, kind: str) -> Head | None:
        """The head of one queue (after its last head was settled), None when it is empty."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(OutboxRow)
                .where(
                    OutboxRow.state == PENDING, OutboxRow.webhook == webhook, OutboxRow.kind == kind
                )
                .order_by(OutboxRow.id)
                .limit(1)
            )
            return _head(row) if row is not None else None

    async def claim(self, row_id: int, now: datetime, until: datetime) -> bool:
        """Take the row for one attempt (its lease runs to `until`); False when another
        instance holds it or it is no longer pending. The attempt is counted now, so one
        cut short by a crash counts too."""
        async with self.sessions.begin() as session:
            result: Any = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == row_id,
                    OutboxRow.state == PENDING,
                    or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now),
                )
                .values(
                    claimed_until=until,
                    attempts=OutboxRow.attempts + 1,
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount == 1)

    async def delivered(self, row_id: int, now: datetime, status: int) -> None:
        await self._finish(row_id, now, DELIVERED, status, "")

    async def given_up(self, row_id: int, now: datetime, status: int | None, why: str) -> None:
        await self._finish(row_id, now, GIVEN_UP, status, why)

    async def _finish(
        self, row_id: int, now: datetime, state: str, status: int | None, why: str
    ) -> None:
        await self._update(row_id, state=state, finished_at=now, last_status=status, why=why)

    async def retry_at(self, row_id: int, when: datetime, status: int | None, why: str) -> None:
        await self._update(row_id, next_attempt_at=when, last_status=status, why=why)

    async def _update(self, row_id: int, *, why: str, **values: object) -> None:
        """A pending row's attempt recorded: its lease ends, `why` is its last error."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.state == PENDING)
                .values(claimed_until=None, last_error=why[:ERROR_MAX], **values)
                .execution_options(synchronize_session=False)
            )

    async def prune(self, before: datetime) -> int:
        """Delete up to PRUNE_BATCH delivered or given-up rows finished before `before`."""
        async with self.sessions.begin() as session:
            ids = list(
                await session.scalars(
                    select(OutboxRow.id)
                    .where(
                        OutboxRow.state.in_([DELIVERED, GIVEN_UP]),
                        OutboxRow.finished_at < before,
                    )
                    .limit(PRUNE_BATCH)
                )
            )
            if ids:
                await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))
            return len(ids)

    async def summaries(self) -> dict[str, Summary]:
        async with self.sessions() as session:
            counts = await session.execute(
                select(
                    OutboxRow.webhook,
                    OutboxRow.state,
                    func.count(),
                    func.max(OutboxRow.finished_at),
                ).group_by(OutboxRow.webhook, OutboxRow.state)
            )
            found: dict[str, dict[str, object]] = {}
            for webhook, state, count, last in counts:
                entry = found.setdefault(webhook, {})
                entry[state] = count
                entry[f"last_{state}"] = as_utc(last) if last is not None else None
            errors = await session.execute(
                select(OutboxRow.webhook, OutboxRow.last_error).where(
                    OutboxRow.id.in_(
                        select(func.max(OutboxRow.id))
                        .where(
                            or_(
                                OutboxRow.state == GIVEN_UP,
                                and_(OutboxRow.state == PENDING, OutboxRow.last_error != ""),
                            )
                        )
                        .group_by(OutboxRow.webhook)
                    )
                )
            )
            last_errors = {str(webhook): str(error) for webhook, error in errors}
        out = {}
        for webhook, entry in found.items():
            out[webhook] = Summary(
                pending=_int(entry.get(PENDING)),
                given_up=_int(entry.get(GIVEN_UP)),
                delivered=_int(entry.get(DELIVERED)),
                last_delivered_at=_when(entry.get(f"last_{DELIVERED}")),
                last_given_up_at=_when(entry.get(f"last_{GIVEN_UP}")),
                last_error=last_errors.get(webhook, ""),
            )
        return out


def _head(r: OutboxRow) -> Head:
    return Head(
        id=r.id,
        delivery_id=r.delivery_id,
        webhook=r.webhook,
        kind=r.kind,
        body=r.body,
        created_at=as_utc(r.created_at),
        next_attempt_at=as_utc(r.next_attempt_at),
        claimed_until=as_utc(r.claimed_until) if r.claimed_until else None,
        attempts=r.attempts,
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _when(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None
