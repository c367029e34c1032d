"""LocalAdmin: subscribers of the embedded billing, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing_client.audit import AuditJournal
from billing_client.errors import AdminError
from billing_client.local.admin import LocalAdmin
from billing_client.local.importer import SubscriberImporter
from billing_client.models import Subscriber, SubscriberPhone
from billing_client.pins import verify_pin
from billing_client.subscriber import Status
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database

D = Decimal


def make_admin(database: Database, clock: FixedClock) -> LocalAdmin:
    audit = AuditJournal(database.sessions, "local", clock)
    return LocalAdmin(database.sessions, clock, audit, PhoneNormaliser())


def journal(database: Database, clock: FixedClock) -> AuditJournal:
    return AuditJournal(database.sessions, "local", clock)


async def test_add_get_and_list(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    info = await admin.add(
        "ivan",
        name="  Іван Петренко ",
        phones=["050 123 45 67", "+38 (067) 765-43-21", "0501234567"],
        balance=D("120.50"),
        tariff="Home 100",
        fee=D("150"),
        actor="admin",
    )
    assert info.login == "ivan"
    assert info.name == "Іван Петренко"
    assert info.phones == ("+380501234567", "+380677654321")  # normalised, repeat dropped
    assert info.balance == D("120.50")
    assert info.fee == D("150.00")
    assert info.status == Status.ACTIVE
    assert info.days_left == 24  # 120.50 / (150 / 30 days in November)
    assert not info.has_pin
    await admin.add("bohdan", balance=D("-5"), actor="admin")
    await admin.add("anna", frozen=True, actor="admin")

    assert await admin.get("ivan") == info
    assert await admin.get("nobody") is None
    assert [i.login for i in await admin.list()] == ["anna", "bohdan", "ivan"]
    assert [i.login for i in await admin.list(status=Status.DEBTOR)] == ["bohdan"]
    assert [i.login for i in await admin.list(status=Status.FROZEN)] == ["anna"]
    assert [i.login for i in await admin.list(status=Status.ACTIVE)] == ["ivan"]


async def test_initial_balance_and_credit_are_journalled(
    database: Database, clock: FixedClock
) -> None:
    admin = make_admin(database, clock)
    await admin.add(
        "ivan",
        balance=D("-20.00"),
        credit=D("100"),
        credit_expire=date(2026, 11, 30),
        fee=D("100"),
        actor="operator1",
    )
    await admin.add("zero", actor="operator1")
    records = await journal(database, clock).records()
    assert {(r.login, r.kind, r.field, r.amount, r.before, r.after, r.detail) for r in records} == {
        ("ivan", "payment", "balance", D("-20.00"), D("0.00"), D("-20.00"), "initial balance"),
        ("ivan", "credit", "credit", D("100.00"), D("0.00"), D("100.00"),
         "initial credit, until 2026-11-30"),
    }  # fmt: skip
    assert {r.source for r in records} == {"cli user operator1"}
    info = await admin.get("ivan")
    assert info is not None
    assert info.credit == D("100.00")
    assert info.status == Status.ACTIVE  # -20 >= -100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"login": "bad login"}, "bad login 'bad login'"),
        ({"login": ""}, "bad login"),
        ({"login": "x" * 65}, "bad login"),
        ({"phones": ["0501234567", "12ab"]}, "unparseable phone '12ab'"),
        ({"phones": ["050\n1234567"]}, "unparseable phone"),
        ({"balance": D("1.005")}, "bad balance"),
        ({"credit": D("-1")}, "credit must not be negative"),
        ({"credit": D("100")}, "needs credit_expire"),
        ({"fee": D("-1")}, "fee must not be negative"),
        ({"name": "two\nlines"}, "name contains a control character"),
        ({"name": "x" * 256}, "name longer than 255"),
        ({"tariff": "t" * 65}, "tariff longer than 64"),
        ({"pin": "12"}, "4 to 8 digits"),
        ({"actor": ""}, "actor is required"),
    ],
)
async def test_add_refuses_bad_input(
    database: Database, clock: FixedClock, kwargs: dict[str, object], message: str
) -> None:
    admin = make_admin(database, clock)
    args: dict[str, object] = {"login": "ivan", "actor": "admin", **kwargs}
    login = args.pop("login")
    with pytest.raises(AdminError, match=message.replace("(", r"\(")):
        await admin.add(login, **args)  # type: ignore[arg-type]
    assert await admin.list() == []


async def test_a_login_is_added_once(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add("ivan", actor="admin")
    with pytest.raises(AdminError, match="login ivan already exists"):
        await admin.add("ivan", actor="admin")


async def test_a_phone_belongs_to_one_login_however_written(
    database: Database, clock: FixedClock
) -> None:
    admin = make_admin(database, clock)
    await admin.add("ivan", phones=["0501234567"], actor="admin")
    with pytest.raises(AdminError, match=r"phone \+380501234567 belongs to login ivan"):
        await admin.add("olena", phones=["+38 (050) 123-45-67"], actor="admin")
    assert await admin.get("olena") is None
    await admin.add("olena", phones=["0671112233"], actor="admin")
    with pytest.raises(AdminError, match=r"phone \+380501234567 belongs to login ivan"):
        await admin.edit("olena", phones=["0671112233", "380501234567"], actor="admin")
    olena = await admin.get("olena")
    assert olena is not None
    assert olena.phones == ("+380671112233",)
    # Giving the owner its own number again, written another way, is no conflict.
    ivan = await admin.edit("ivan", phones=["+38 050 123 4567"], actor="admin")
    assert ivan.phones == ("+380501234567",)


async def test_edit_changes_only_what_is_given(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add(
        "ivan",
        name="Ivan",
        phones=["0501234567", "0671112233"],
        balance=D("10"),
        tariff="Home",
        fee=D("100"),
        actor="admin",
    )
    info = await admin.edit(
        "ivan", phones=["0671112233", "0931112233"], tariff="Home 200", actor="admin"
    )
    assert info.phones == ("+380671112233", "+380931112233")  # order kept as given
    assert (info.name, info.tariff, info.fee, info.balance) == (
        "Ivan",
        "Home 200",
        D("100.00"),
        D("10.00"),
    )
    info = await admin.edit("ivan", name="Ivan P.", fee=D("150.5"), actor="admin")
    assert (info.name, info.fee, info.phones) == (
        "Ivan P.",
        D("150.50"),
        ("+380671112233", "+380931112233"),
    )
    assert await admin.get("ivan") == info
    # The number dropped from ivan is free again.
    await admin.add("olena", phones=["0501234567"], actor="admin")
    async with database.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(SubscriberPhone))
    assert stored == 3
    info = await admin.edit("ivan", phones=[], actor="admin")
    assert info.phones == ()
    with pytest.raises(AdminError, match="no subscriber with login 'nobody'"):
        await admin.edit("nobody", name="x", actor="admin")


async def test_credit_edits_are_journalled(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add("ivan", balance=D("-50"), fee=D("100"), actor="admin")
    with pytest.raises(AdminError, match="needs credit_expire"):
        await admin.edit("ivan", credit=D("100"), actor="admin")
    info = await admin.edit(
        "ivan", credit=D("100"), credit_expire=date(2026, 11, 27), actor="admin"
    )
    assert (info.credit, info.credit_expire, info.status) == (
        D("100.00"),
        date(2026, 11, 27),
        Status.ACTIVE,
    )
    info = await admin.edit("ivan", credit_expire=date(2026, 11, 29), actor="boss")
    assert info.credit_expire == date(2026, 11, 29)
    info = await admin.edit("ivan", name="Ivan", actor="admin")  # no credit entry
    with pytest.raises(AdminError, match="clear_credit cannot be combined"):
        await admin.edit("ivan", clear_credit=True, credit=D("5"), actor="admin")
    info = await admin.edit("ivan", clear_credit=True, actor="admin")
    assert (info.credit, info.credit_expire, info.status) == (D("0.00"), None, Status.DEBTOR)
    entries = sorted(
        (r.id, r.field, r.amount, r.before, r.after, r.source, r.detail)
        for r in await journal(database, clock).records("ivan")
        if r.kind == "credit"
    )
    assert [e[1:] for e in entries] == [
        ("credit", D("100.00"), D("0.00"), D("100.00"), "cli user admin",
         "set by admin, until 2026-11-27"),
        ("credit", D("0.00"), D("100.00"), D("100.00"), "cli user boss",
         "set by admin, until 2026-11-29"),
        ("credit", D("-100.00"), D("100.00"), D("0.00"), "cli user admin",
         "cleared, no credit"),
    ]  # fmt: skip


async def test_pin_set_and_cleared(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    info = await admin.add("ivan", pin="4821", actor="admin")
    assert info.has_pin

    async def stored_hash() -> str | None:
        async with database.sessions() as session:
            return await session.scalar(
                select(Subscriber.pin_hash).where(Subscriber.login == "ivan")
            )

    first = await stored_hash()
    assert first is not None
    assert verify_pin(first, "4821")
    info = await admin.edit("ivan", pin="99887766", actor="admin")
    second = await stored_hash()
    assert second is not None
    assert verify_pin(second, "99887766")
    assert not verify_pin(second, "4821")
    with pytest.raises(AdminError, match="clear_pin cannot be combined"):
        await admin.edit("ivan", pin="1111", clear_pin=True, actor="admin")
    with pytest.raises(AdminError, match="4 to 8 digits"):
        await admin.edit("ivan", pin="12 34", actor="admin")
    info = await admin.edit("ivan", clear_pin=True, actor="admin")
    assert not info.has_pin
    assert await stored_hash() is None


async def test_freeze_and_disable(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add("ivan", balance=D("-1"), actor="admin")
    info = await admin.set_frozen("ivan", True, actor="admin")
    assert (info.frozen, info.status) == (True, Status.FROZEN)
    info = await admin.set_frozen("ivan", False, actor="admin")
    assert (info.frozen, info.status) == (False, Status.DEBTOR)
    info = await admin.set_disabled("ivan", True, actor="admin")
    assert (info.disabled, info.status) == (True, Status.FROZEN)
    again = await admin.get("ivan")
    assert again is not None
    assert again.disabled
    with pytest.raises(AdminError, match="no subscriber"):
        await admin.set_frozen("nobody", True, actor="admin")
    again = await admin.set_frozen("ivan", False, actor="admin")  # already so: no entry
    assert not again.frozen
    flags = sorted(
        (r.id, r.kind, r.field, r.amount, r.source)
        for r in await journal(database, clock).records("ivan")
        if r.field != "balance"
    )
    assert [f[1:] for f in flags] == [
        ("freeze", "frozen", D("0.00"), "cli user admin"),
        ("unfreeze", "frozen", D("0.00"), "cli user admin"),
        ("disable", "disabled", D("0.00"), "cli user admin"),
    ]


async def test_delete_keeps_the_journal_and_frees_the_phones(
    database: Database, clock: FixedClock
) -> None:
    admin = make_admin(database, clock)
    await admin.add("ivan", phones=["0501234567"], balance=D("30"), actor="admin")
    await admin.add_payment("ivan", D("20"), note="cash", actor="admin")
    await admin.delete("ivan", actor="boss")
    assert await admin.get("ivan") is None
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SubscriberPhone)) == 0
    records = await journal(database, clock).records("ivan")
    assert sorted((r.kind, r.amount, r.before, r.after) for r in records) == [
        ("delete", D("-50.00"), D("50.00"), None),
        ("payment", D("20.00"), D("30.00"), D("50.00")),
        ("payment", D("30.00"), D("0.00"), D("30.00")),
    ]
    info = await admin.add("olena", phones=["+380501234567"], actor="admin")
    assert info.phones == ("+380501234567",)
    with pytest.raises(AdminError, match="no subscriber"):
        await admin.delete("ivan", actor="boss")


async def test_add_payment(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add("ivan", balance=D("-40"), fee=D("100"), actor="admin")
    assert await admin.add_payment("ivan", D("100.5"), note="cash at office", actor="kasa") == D(
        "60.50"
    )
    assert await admin.add_payment("ivan", D("-0.50"), note="typo", actor="kasa") == D("60.00")
    for bad, message in [
        (D("0"), "changes nothing"),
        (D("1.001"), "more than two decimals"),
        (D("NaN"), "not an amount"),
    ]:
        with pytest.raises(AdminError, match=message):
            await admin.add_payment("ivan", bad, actor="kasa")
    with pytest.raises(AdminError, match="no subscriber"):
        await admin.add_payment("nobody", D("1"), actor="kasa")
    info = await admin.get("ivan")
    assert info is not None
    assert info.balance == D("60.00")
    payments = [
        (r.amount, r.before, r.after, r.source, r.detail, r.at)
        for r in await journal(database, clock).records("ivan")
        if r.detail != "initial balance"
    ]
    assert sorted(payments) == [
        (D("-0.50"), D("60.50"), D("60.00"), "cli user kasa", "typo", clock.local(clock.now())),
        (D("100.50"), D("-40.00"), D("60.50"), "cli user kasa", "cash at office",
         clock.local(clock.now())),
    ]  # fmt: skip


async def test_export_reimports_to_the_same_state(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add(
        "ivan",
        name='Іван "Ваня", Петренко',
        phones=["0501234567", "0671112233"],
        balance=D("120.50"),
        tariff="Home, 100",
        fee=D("150"),
        actor="admin",
    )
    await admin.add(
        "olena",
        name="Олена; Коваль",
        phones=["0931112233"],
        balance=D("-30"),
        credit=D("200"),
        credit_expire=date(2026, 11, 1),  # expired, still stored: exported as stored
        fee=D("100"),
        frozen=True,
        actor="admin",
    )
    await admin.add("shop.1@isp", disabled=True, actor="admin")
    first = io.StringIO()
    assert await admin.export_csv(first) == 3
    text = first.getvalue()
    assert text.splitlines()[0] == (
        "login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled"
    )
    assert text.splitlines()[2] == (
        "olena,Олена; Коваль,+380931112233,-30.00,200.00,2026-11-01,,100.00,1,0"
    )
    importer = SubscriberImporter(
        database.sessions, clock, journal(database, clock), PhoneNormaliser()
    )
    # Onto the state it came from: nothing to do.
    report = await importer.run(io.StringIO(text), update_balances=True, actor="admin")
    assert (report.created, report.updated, report.unchanged, report.skipped) == (0, 0, 3, [])
    before = await admin.list()
    for login in ("ivan", "olena", "shop.1@isp"):
        await admin.delete(login, actor="admin")
    report = await importer.run(io.StringIO(text), actor="admin")
    assert (report.created, report.skipped) == (3, [])
    assert await admin.list() == before
    second = io.StringIO()
    assert await admin.export_csv(second) == 3
    assert second.getvalue() == text


async def test_export_pages_through_many_subscribers(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    rows = "".join(f"u{i:04d},,,0.00,0.00,,,0.00,0,0\n" for i in range(2345))
    importer = SubscriberImporter(
        database.sessions, clock, journal(database, clock), PhoneNormaliser()
    )
    header = "login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled\n"
    report = await importer.run(io.StringIO(header + rows), actor="admin")
    assert report.created == 2345
    out = io.StringIO()
    assert await admin.export_csv(out) == 2345
    assert out.getvalue() == header + rows
