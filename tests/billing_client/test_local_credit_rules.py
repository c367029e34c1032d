"""Self-service credit through LocalBackend.set_credit: every refusal, and days left."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.outcomes import CreditReason, CreditResult, MoneySource
from billing_client.subscriber import Status
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database

D = Decimal
CALL = MoneySource(kind="call", number="+380501234567", uniqueid="1700000000.7")


def parts(
    database: Database, clock: FixedClock, credit_amount: D | None = None
) -> tuple[LocalBackend, LocalAdmin]:
    audit = AuditJournal(database.sessions, "local", clock)
    return (
        LocalBackend(database.sessions, clock, audit, credit_amount=credit_amount),
        LocalAdmin(database.sessions, clock, audit, PhoneNormaliser()),
    )


def kyiv_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("profile", "amount", "reason"),
    [
        ({"balance": D("-50"), "fee": D("100"), "frozen": True}, None, CreditReason.FROZEN),
        ({"balance": D("-50"), "fee": D("100"), "disabled": True}, None, CreditReason.FROZEN),
        ({"balance": D("0"), "fee": D("100")}, None, CreditReason.NOT_NEEDED),
        ({"balance": D("25"), "fee": D("100")}, None, CreditReason.NOT_NEEDED),
        (
            {
                "balance": D("-50"),
                "fee": D("100"),
                "credit": D("100"),
                "credit_expire": date(2026, 11, 22),  # in force to the end of today
            },
            None,
            CreditReason.ALREADY_IN_CREDIT,
        ),
        ({"balance": D("-100.01"), "fee": D("100")}, None, CreditReason.DEBT_TOO_LARGE),
        ({"balance": D("-250"), "fee": D("100")}, D("200"), CreditReason.DEBT_TOO_LARGE),
        ({"balance": D("-10"), "fee": D("0")}, None, CreditReason.NOT_ALLOWED),
    ],
)
async def test_refusals(
    database: Database,
    clock: FixedClock,
    profile: dict[str, object],
    amount: D | None,
    reason: CreditReason,
) -> None:
    backend, admin = parts(database, clock)
    await admin.add("ivan", actor="admin", **profile)  # type: ignore[arg-type]
    before = await admin.get("ivan")
    outcome = await backend.set_credit("ivan", amount=amount, days=5, source=CALL)
    assert (outcome.result, outcome.reason, outcome.login) == (CreditResult.DENIED, reason, "ivan")
    assert await admin.get("ivan") == before
    entries = await AuditJournal(database.sessions, "local", clock).records("ivan")
    assert [e.detail for e in entries if e.source.startswith("call")] == []


async def test_unknown_login(database: Database, clock: FixedClock) -> None:
    backend, _ = parts(database, clock)
    outcome = await backend.set_credit("nobody", amount=None, days=5, source=CALL)
    assert outcome.result == CreditResult.NOTFOUND


async def test_credit_given_then_expires_then_month_limit(
    database: Database, clock: FixedClock
) -> None:
    backend, admin = parts(database, clock)
    await admin.add("ivan", balance=D("-50"), fee=D("300"), actor="admin")
    outcome = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert (outcome.result, outcome.amount, outcome.expire) == (
        CreditResult.OK,
        D("300.00"),
        date(2026, 11, 27),
    )
    info = await admin.get("ivan")
    assert info is not None
    # (-50 + 300) / (300 / 30 days of November) = 25 days
    assert (info.status, info.credit, info.credit_expire, info.days_left) == (
        Status.ACTIVE,
        D("300.00"),
        date(2026, 11, 27),
        25,
    )
    (entry,) = [
        e
        for e in await AuditJournal(database.sessions, "local", clock).records("ivan")
        if e.kind == "credit"
    ]
    assert (entry.field, entry.amount, entry.before, entry.after, entry.detail) == (
        "credit",
        D("300.00"),
        D("0.00"),
        D("300.00"),
        "until 2026-11-27",
    )
    assert entry.source == "call from +380501234567 uniqueid 1700000000.7"

    clock.instant = kyiv_noon(date(2026, 11, 27))  # the last day it is in force
    info = await admin.get("ivan")
    assert info is not None
    assert (info.status, info.credit, info.days_left) == (Status.ACTIVE, D("300.00"), 25)
    again = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert again.reason == CreditReason.ALREADY_IN_CREDIT

    clock.instant = kyiv_noon(date(2026, 11, 28))
    info = await admin.get("ivan")
    assert info is not None
    assert (info.status, info.credit, info.credit_expire, info.days_left) == (
        Status.DEBTOR,
        D("0.00"),
        None,
        0,
    )
    again = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert (again.result, again.reason) == (CreditResult.DENIED, CreditReason.MONTH_LIMIT)

    clock.instant = kyiv_noon(date(2026, 12, 1))
    again = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert (again.result, again.expire) == (CreditResult.OK, date(2026, 12, 6))


async def test_the_month_is_the_local_month(database: Database, clock: FixedClock) -> None:
    backend, admin = parts(database, clock)
    await admin.add("ivan", balance=D("-50"), fee=D("100"), actor="admin")
    clock.instant = kyiv_noon(date(2026, 11, 20))
    first = await backend.set_credit("ivan", amount=None, days=1, source=CALL)
    assert (first.result, first.expire) == (CreditResult.OK, date(2026, 11, 21))
    clock.instant = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 00:30 in Kyiv, 1 December
    second = await backend.set_credit("ivan", amount=None, days=1, source=CALL)
    # Still November in UTC, but the billing month is Kyiv's.
    assert (second.result, second.expire) == (CreditResult.OK, date(2026, 12, 2))


async def test_amounts(database: Database, clock: FixedClock) -> None:
    backend, admin = parts(database, clock, credit_amount=D("150"))
    await admin.add("exact", balance=D("-150"), fee=D("100"), actor="admin")
    await admin.add("asked", balance=D("-150"), fee=D("100"), actor="admin")
    # The configured amount beats the fee; -150 + 150 = 0 is not too large a debt.
    outcome = await backend.set_credit("exact", amount=None, days=5, source=CALL)
    assert (outcome.result, outcome.amount) == (CreditResult.OK, D("150.00"))
    outcome = await backend.set_credit("asked", amount=D("200"), days=3, source=CALL)
    assert (outcome.result, outcome.amount, outcome.expire) == (
        CreditResult.OK,
        D("200.00"),
        date(2026, 11, 25),
    )


@pytest.mark.parametrize(
    ("balance", "credit", "credit_expire", "fee", "today", "days_left", "status"),
    [
        (D("100"), D("0"), None, D("300"), date(2026, 11, 22), 10, Status.ACTIVE),
        (D("109.99"), D("0"), None, D("300"), date(2026, 11, 22), 10, Status.ACTIVE),
        (D("-100"), D("300"), date(2026, 11, 30), D("300"), date(2026, 11, 22), 20, Status.ACTIVE),
        (D("-100"), D("300"), date(2026, 11, 21), D("300"), date(2026, 11, 22), 0, Status.DEBTOR),
        (D("-100"), D("0"), None, D("300"), date(2026, 11, 22), 0, Status.DEBTOR),
        (D("0"), D("0"), None, D("300"), date(2026, 11, 22), 0, Status.ACTIVE),
        (D("50"), D("0"), None, D("0"), date(2026, 11, 22), None, Status.ACTIVE),
        (D("95"), D("0"), None, D("280"), date(2027, 2, 10), 9, Status.ACTIVE),  # 28 days
        (D("95"), D("0"), None, D("310"), date(2026, 12, 10), 9, Status.ACTIVE),  # 31 days
    ],
)
async def test_days_left(
    database: Database,
    clock: FixedClock,
    *,
    balance: D,
    credit: D,
    credit_expire: date | None,
    fee: D,
    today: date,
    days_left: int | None,
    status: Status,
) -> None:
    backend, admin = parts(database, clock)
    await admin.add(
        "ivan",
        phones=["0501234567"],
        balance=balance,
        credit=credit,
        credit_expire=credit_expire,
        fee=fee,
        actor="admin",
    )
    clock.instant = kyiv_noon(today)
    lookup = await backend.lookup_number("+380501234567")
    assert lookup.subscriber is not None
    assert (lookup.subscriber.days_left, lookup.subscriber.status) == (days_left, status)
