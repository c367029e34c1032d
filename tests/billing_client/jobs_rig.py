"""What the tests of the embedded billing's periodic jobs share: a clock that can be moved,
subscribers added through LocalAdmin, balances and journal sums read back from the tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from billing_client.models import AuditEntry, FeeCharge, Subscriber
from billing_client.settings import BillingSettings
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database

D = Decimal


def utc(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Rig:
    database: Database
    clock: FixedClock
    audit: AuditJournal
    admin: LocalAdmin
    settings: BillingSettings

    async def add(self, login: str, **values: object) -> None:
        await self.admin.add(login, actor="admin", **values)  # type: ignore[arg-type]

    async def balances(self) -> dict[str, int]:
        async with self.database.sessions() as session:
            rows = await session.execute(select(Subscriber.login, Subscriber.balance_cents))
            return dict(rows.all())

    async def journal(self, kind: str) -> dict[str, int]:
        """The sum of the journal's amounts of `kind`, by login, in kopecks."""
        async with self.database.sessions() as session:
            rows = await session.execute(
                select(AuditEntry.login, AuditEntry.amount_cents).where(AuditEntry.kind == kind)
            )
            sums: dict[str, int] = defaultdict(int)
            for login, cents in rows:
                sums[login] += cents
            return dict(sums)

    async def charges(self) -> list[tuple[str, str, int]]:
        """(login, day, kopecks) of every fee charge, in order."""
        async with self.database.sessions() as session:
            rows = await session.execute(
                select(FeeCharge.login, FeeCharge.day, FeeCharge.amount_cents).order_by(
                    FeeCharge.login, FeeCharge.day
                )
            )
            return [(login, day.isoformat(), cents) for login, day, cents in rows]


def make_rig(database: Database, start: datetime, **settings: object) -> Rig:
    clock = FixedClock(start)
    audit = AuditJournal(database.sessions, "local", clock)
    admin = LocalAdmin(database.sessions, clock, audit, PhoneNormaliser())
    return Rig(database, clock, audit, admin, BillingSettings(**settings))
