"""The audit journal of money movements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.models import AuditEntry
from billing_client.money import from_cents, to_cents
from billing_client.outcomes import MoneySource
from primitives.clock import Clock


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    login: str
    kind: str
    field: str
    amount: Decimal
    before: Decimal | None
    after: Decimal | None
    source: str
    backend: str
    outcome: str
    detail: str


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else to_cents(value)


class AuditJournal:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], backend: str, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._backend = backend
        self._clock = clock

    def entry(
        self,
        *,
        login: str,
        kind: str,
        amount: Decimal,
        source: MoneySource,
        outcome: str,
        field: str = "balance",
        before: Decimal | None = None,
        after: Decimal | None = None,
        detail: str = "",
    ) -> AuditEntry:
        """A row to add in the caller's own transaction (so it lands with the change)."""
        return AuditEntry(
            **self.values(
                login=login,
                kind=kind,
                amount=amount,
                source=source,
                outcome=outcome,
                field=field,
                before=before,
                after=after,
                detail=detail,
            )
        )

    def values(
        self,
        *,
        login: str,
        kind: str,
        amount: Decimal,
        source: MoneySource,
        outcome: str,
        field: str = "balance",
        before: Decimal | None = None,
        after: Decimal | None = None,
        detail: str = "",
    ) -> dict[str, Any]:
        """The same row as column values, for a bulk INSERT of many entries at once (a
        periodic job's thousands), in the caller's transaction."""
        return {
            "at": self._clock.now(),
            "login": login,
            "kind": kind,
            "field": field,
            "amount_cents": to_cents(amount),
            "before_cents": _cents(before),
            "after_cents": _cents(after),
            "source": source.kind,
            "number": source.number,
            "uniqueid": source.uniqueid,
            "actor": source.user,
            "backend": self._backend,
            "outcome": outcome,
            "detail": detail[:1000],
        }

    async def open(
        self, *, login: str, kind: str, amount: Decimal, source: MoneySource, field: str = "balance"
    ) -> int:
        """Write a `pending` row in its own transaction before a remote move is sent."""
        async with self._sessions.begin() as session:
            row = self.entry(
                login=login, kind=kind, amount=amount, source=source, field=field, outcome="pending"
            )
            session.add(row)
            await session.flush()
            return row.id

    async def close(
        self,
        entry_id: int,
        outcome: str,
        *,
        before: Decimal | None = None,
        after: Decimal | None = None,
        amount: Decimal | None = None,
        detail: str = "",
    ) -> None:
        """Record how a pending move ended; `amount` when only the answer told it (a card)."""
        values: dict[str, object] = {"outcome": outcome, "detail": detail[:1000]}
        if amount is not None:
            values["amount_cents"] = to_cents(amount)
        if before is not None:
            values["before_cents"] = to_cents(before)
        if after is not None:
            values["after_cents"] = to_cents(after)
        async with self._sessions.begin() as session:
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == entry_id).values(**values)
            )

    async def records(self, login: str | None = None, limit: int = 200) -> list[AuditRecord]:
        stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        if login is not None:
            stmt = stmt.where(AuditEntry.login == login)
        async with self._sessions() as session:
            rows = (await session.scalars(stmt)).all()
        return [
            AuditRecord(
                id=r.id,
                at=self._clock.local(r.at),
                login=r.login,
                kind=r.kind,
                field=r.field,
                amount=from_cents(r.amount_cents),
                before=None if r.before_cents is None else from_cents(r.before_cents),
                after=None if r.after_cents is None else from_cents(r.after_cents),
                source=_describe(r),
                backend=r.backend,
                outcome=r.outcome,
                detail=r.detail,
            )
            for r in rows
        ]


def _describe(row: AuditEntry) -> str:
    return MoneySource(
        kind=row.source,  # type: ignore[arg-type]
        number=row.number,
        uniqueid=row.uniqueid,
        user=row.actor,
    ).describe()
