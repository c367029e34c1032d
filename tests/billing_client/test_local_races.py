"""Money moves of LocalBackend racing each other from two engines, as two processes would.

Every round starts the moves together with asyncio.gather; each engine has its own
connections, so the database (SQLite's write lock, PostgreSQL's row locks) is what has to
keep them apart.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.local.paycards import PaycardAdmin
from billing_client.models import AuditEntry
from billing_client.outcomes import (
    CreditReason,
    CreditResult,
    MoneySource,
    PaycardResult,
)
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory
from tests.conftest import Database

D = Decimal
ROUNDS = 25
CALL = MoneySource(kind="call", number="+380501234567", uniqueid="1700000000.1")


@dataclass
class Side:
    """One process's view: its own engine, backend and admin."""

    backend: LocalBackend
    admin: LocalAdmin


def side(sessions: async_sessionmaker[AsyncSession], clock: FixedClock) -> Side:
    audit = AuditJournal(sessions, "local", clock)
    return Side(
        LocalBackend(sessions, clock, audit), LocalAdmin(sessions, clock, audit, PhoneNormaliser())
    )


@pytest.fixture
async def sides(database: Database, clock: FixedClock) -> AsyncIterator[tuple[Side, Side]]:
    other = create_engine(DatabaseSettings(url=database.url))
    try:
        yield side(database.sessions, clock), side(session_factory(other), clock)
    finally:
        await other.dispose()


async def balance(s: Side, login: str) -> D:
    info = await s.admin.get(login)
    assert info is not None
    return info.balance


async def test_one_card_two_payers_same_login(
    database: Database, clock: FixedClock, sides: tuple[Side, Side]
) -> None:
    one, two = sides
    await one.admin.add("ivan", actor="admin")
    cards = PaycardAdmin(database.sessions, clock)
    for _ in range(ROUNDS):
        (card,) = await cards.generate(1, D("10"))
        before = await balance(one, "ivan")
        results = await asyncio.gather(
            one.backend.pay_card("ivan", card, source=CALL),
            two.backend.pay_card("ivan", card, source=CALL),
            one.backend.pay_card("ivan", card, source=CALL),
            two.backend.pay_card("ivan", card, source=CALL),
        )
        assert sorted(r.result for r in results) == [
            PaycardResult.OK,
            PaycardResult.USED,
            PaycardResult.USED,
            PaycardResult.USED,
        ]
        assert await balance(two, "ivan") == before + D("10")
    assert await balance(one, "ivan") == D(10 * ROUNDS)


async def test_one_card_two_logins(
    database: Database, clock: FixedClock, sides: tuple[Side, Side]
) -> None:
    one, two = sides
    await one.admin.add("ivan", actor="admin")
    await one.admin.add("olena", actor="admin")
    cards = PaycardAdmin(database.sessions, clock)
    for _ in range(ROUNDS):
        (card,) = await cards.generate(1, D("10"))
        results = await asyncio.gather(
            one.backend.pay_card("ivan", card, source=CALL),
            two.backend.pay_card("olena", card, source=CALL),
        )
        assert sorted(r.result for r in results) == [PaycardResult.OK, PaycardResult.USED]
        (winner,) = [r.login for r in results if r.result == PaycardResult.OK]
        (view,) = [c for c in await cards.list(used=True) if c.number == card]
        assert view.used_by == winner
    total = await balance(one, "ivan") + await balance(one, "olena")
    assert total == D(10 * ROUNDS)


async def test_two_credits_at_once(
    database: Database, clock: FixedClock, sides: tuple[Side, Side]
) -> None:
    one, two = sides
    for i in range(ROUNDS):
        login = f"debtor{i}"
        await one.admin.add(login, balance=D("-50"), fee=D("100"), actor="admin")
        results = await asyncio.gather(
            one.backend.set_credit(login, amount=None, days=5, source=CALL),
            two.backend.set_credit(login, amount=None, days=5, source=CALL),
        )
        assert sorted((r.result, r.reason) for r in results) == [
            (CreditResult.DENIED, CreditReason.ALREADY_IN_CREDIT),
            (CreditResult.OK, None),
        ]
    async with database.sessions() as session:
        credits = (
            await session.scalars(select(AuditEntry.login).where(AuditEntry.kind == "credit"))
        ).all()
    assert sorted(credits) == sorted(f"debtor{i}" for i in range(ROUNDS))


async def test_payment_and_card_both_land(
    database: Database, clock: FixedClock, sides: tuple[Side, Side]
) -> None:
    one, two = sides
    await one.admin.add("ivan", balance=D("-3"), actor="admin")
    cards = PaycardAdmin(database.sessions, clock)
    for _ in range(ROUNDS):
        (card,) = await cards.generate(1, D("10"))
        paid, carded = await asyncio.gather(
            one.admin.add_payment("ivan", D("7.01"), note="office", actor="kasa"),
            two.backend.pay_card("ivan", card, source=CALL),
        )
        assert carded.result == PaycardResult.OK
        assert carded.balance is not None
        # Whichever went second saw the other's result.
        assert paid in {carded.balance + D("7.01"), carded.balance - D("10")}
    assert await balance(two, "ivan") == D("-3") + ROUNDS * D("17.01")
    # The journal is one unbroken chain: each move starts from the balance the last left.
    async with database.sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.login == "ivan").order_by(AuditEntry.id)
            )
        ).all()
    assert len(rows) == 1 + 2 * ROUNDS
    for earlier, later in itertools.pairwise(rows):
        assert later.before_cents == earlier.after_cents
        assert later.after_cents == (later.before_cents or 0) + later.amount_cents
