"""PaycardAdmin: generate, import, deactivate and list pay cards, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing_client.audit import AuditJournal
from billing_client.errors import AdminError
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.local.paycards import PaycardAdmin, new_number
from billing_client.models import Paycard
from billing_client.outcomes import MoneySource, PaycardResult
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database

D = Decimal
CALL = MoneySource(kind="call", number="+380501234567", uniqueid="1700000000.1")


def make_backend(database: Database, clock: FixedClock) -> LocalBackend:
    return LocalBackend(database.sessions, clock, AuditJournal(database.sessions, "local", clock))


def make_admin(database: Database, clock: FixedClock) -> LocalAdmin:
    audit = AuditJournal(database.sessions, "local", clock)
    return LocalAdmin(database.sessions, clock, audit, PhoneNormaliser())


async def test_generate(database: Database, clock: FixedClock) -> None:
    cards = PaycardAdmin(database.sessions, clock)
    numbers = await cards.generate(300, D("100"))
    assert len(set(numbers)) == 300
    assert all(len(n) == 16 and n.isdigit() and n[0] != "0" for n in numbers)
    more = await cards.generate(5, D("50.5"), digits=20)
    assert all(len(n) == 20 for n in more)
    assert not set(more) & set(numbers)
    listed = await cards.list()
    assert {c.number for c in listed} == {*numbers, *more}
    by_number = {c.number: c for c in listed}
    assert by_number[numbers[0]].amount == D("100.00")
    assert by_number[more[0]].amount == D("50.50")
    view = by_number[numbers[0]]
    assert (view.active, view.used_at, view.used_by, view.used) == (True, None, None, False)
    assert view.created_at == clock.local(clock.now())
    assert view.created_at.utcoffset() == timedelta(hours=2)  # Kyiv in November


@pytest.mark.parametrize(
    ("count", "amount", "digits", "message"),
    [
        (0, D("10"), 16, "count must be 1 to"),
        (100_001, D("10"), 16, "count must be 1 to"),
        (1, D("0"), 16, "worth more than 0"),
        (1, D("-5"), 16, "worth more than 0"),
        (1, D("1.234"), 16, "more than two decimals"),
        (1, D("10"), 11, "digits must be 12 to 32"),
        (1, D("10"), 33, "digits must be 12 to 32"),
    ],
)
async def test_generate_refuses(
    database: Database, clock: FixedClock, *, count: int, amount: D, digits: int, message: str
) -> None:
    with pytest.raises(AdminError, match=message):
        await PaycardAdmin(database.sessions, clock).generate(count, amount, digits=digits)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Paycard)) == 0


def test_numbers_use_every_leading_digit_and_length() -> None:
    drawn = [new_number(12) for _ in range(3000)]
    assert {n[0] for n in drawn} == set("123456789")
    assert {len(n) for n in drawn} == {12}
    assert len(set(drawn)) == len(drawn)


async def test_a_generated_card_pays_once_and_shows_as_used(
    database: Database, clock: FixedClock
) -> None:
    await make_admin(database, clock).add("ivan", balance=D("-10"), actor="admin")
    cards = PaycardAdmin(database.sessions, clock)
    first, second = await cards.generate(2, D("150"))
    backend = make_backend(database, clock)
    outcome = await backend.pay_card("ivan", first, source=CALL)
    assert (outcome.result, outcome.amount, outcome.balance) == (
        PaycardResult.OK,
        D("150.00"),
        D("140.00"),
    )
    assert (await backend.pay_card("ivan", first, source=CALL)).result == PaycardResult.USED
    used = await cards.list(used=True)
    assert [(c.number, c.used_by, c.used_at) for c in used] == [
        (first, "ivan", clock.local(clock.now()))
    ]
    assert [c.number for c in await cards.list(used=False)] == [second]


async def test_deactivate(database: Database, clock: FixedClock) -> None:
    await make_admin(database, clock).add("ivan", actor="admin")
    cards = PaycardAdmin(database.sessions, clock)
    (number,) = await cards.generate(1, D("100"))
    assert await cards.deactivate(f"{number[:4]} {number[4:8]}-{number[8:]}")
    assert not await cards.deactivate(number)  # already inactive
    assert not await cards.deactivate("9999888877776666")
    assert not await cards.deactivate("not a card!")
    (view,) = await cards.list()
    assert not view.active
    outcome = await make_backend(database, clock).pay_card("ivan", number, source=CALL)
    assert outcome.result == PaycardResult.INVALID
    info = await make_admin(database, clock).get("ivan")
    assert info is not None
    assert info.balance == D("0.00")


async def test_import_csv(database: Database, clock: FixedClock) -> None:
    cards = PaycardAdmin(database.sessions, clock)
    (existing,) = await cards.generate(1, D("10"))
    source = io.StringIO(
        "\ufeffnumber,amount\n"
        "1111222233334444,100.00\n"  # 2
        "5555-6666-7777-8888,50\n"  # 3: dashes dropped
        "1111222233334444,100.00\n"  # 4: repeats line 2
        f"{existing},10.00\n"  # 5: already stored
        "12,10.00\n"  # 6: too short
        "9999000011112222,abc\n"  # 7
        "9999000011113333,0.00\n"  # 8
        "9999000011114444,-1.00\n"  # 9
        "9999000011115555\n"  # 10
        '"9999000011116666\n",10.00\n'  # 11-12
        "\n"  # 13
        "ABCD0000EFGH1111,25.00\n"  # 14
    )
    report = await cards.import_csv(source)
    assert report.created == 3
    assert report.skipped == [
        (4, "card repeats line 2"),
        (5, "card already exists"),
        (6, "bad card number '12': 4-32 letters or digits"),
        (7, "bad amount: not an amount: 'abc'"),
        (8, "bad amount: a card must be worth more than 0"),
        (9, "bad amount: negative '-1.00'"),
        (10, "expected 2 fields, found 1"),
        (11, "line break inside a field (an unclosed quote?)"),
    ]
    amounts = {c.number: c.amount for c in await cards.list()}
    assert amounts == {
        existing: D("10.00"),
        "1111222233334444": D("100.00"),
        "5555666677778888": D("50.00"),
        "ABCD0000EFGH1111": D("25.00"),
    }
    with pytest.raises(AdminError, match="missing: amount"):
        await cards.import_csv(io.StringIO("number\n1234567890123,10\n"))
