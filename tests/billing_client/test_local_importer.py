"""SubscriberImporter: CSV files into the embedded billing, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text

from billing_client.audit import AuditJournal
from billing_client.errors import AdminError
from billing_client.local.admin import LocalAdmin
from billing_client.local.importer import ImportReport, SubscriberImporter
from billing_client.models import AuditEntry, Subscriber, SubscriberPhone
from billing_client.subscriber import SubscriberInfo
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory
from tests.conftest import Database

D = Decimal
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HEADER = "login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled\n"


def journal(database: Database, clock: FixedClock) -> AuditJournal:
    return AuditJournal(database.sessions, "local", clock)


def make_importer(database: Database, clock: FixedClock, **kwargs: int) -> SubscriberImporter:
    return SubscriberImporter(
        database.sessions, clock, journal(database, clock), PhoneNormaliser(), **kwargs
    )


def make_admin(database: Database, clock: FixedClock) -> LocalAdmin:
    return LocalAdmin(database.sessions, clock, journal(database, clock), PhoneNormaliser())


async def run_file(
    importer: SubscriberImporter, name: str, *, update_balances: bool = False
) -> ImportReport:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as source:  # BOM left in on purpose
        return await importer.run(source, update_balances=update_balances, actor="importer")


async def by_login(admin: LocalAdmin) -> dict[str, SubscriberInfo]:
    return {info.login: info for info in await admin.list()}


async def import_entries(database: Database) -> list[tuple[str, str, D, D | None, D | None]]:
    """(login, field, amount, before, after) of every journal row of kind "import"."""
    async with database.sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.kind == "import").order_by(AuditEntry.id)
            )
        ).all()
    for row in rows:
        assert (row.source, row.actor, row.outcome) == ("import", "importer", "ok")
    return sorted(
        (
            r.login,
            r.field,
            D(r.amount_cents) / 100,
            None if r.before_cents is None else D(r.before_cents) / 100,
            None if r.after_cents is None else D(r.after_cents) / 100,
        )
        for r in rows
    )


async def test_import_creates_subscribers(database: Database, clock: FixedClock) -> None:
    report = await run_file(make_importer(database, clock), "subscribers_good.csv")
    assert (report.created, report.updated, report.unchanged, report.skipped) == (4, 0, 0, [])
    people = await by_login(make_admin(database, clock))
    assert sorted(people) == ["ivan", "olena", "petro", "shop.1@isp"]
    ivan = people["ivan"]
    assert (ivan.name, ivan.phones, ivan.balance, ivan.tariff, ivan.fee) == (
        "Іван Петренко",
        ("+380501234567", "+380677654321"),
        D("120.50"),
        "Home 100",
        D("150.00"),
    )
    olena = people["olena"]
    assert (olena.name, olena.balance, olena.credit, olena.credit_expire) == (
        'Олена "Оля" Коваль',
        D("-30.00"),
        D("200.00"),
        date(2026, 11, 25),
    )
    assert (people["petro"].name, people["petro"].frozen, people["petro"].phones) == (
        "Petro, Jr.",
        True,
        (),
    )
    assert people["shop.1@isp"].disabled
    # Starting money is journalled as kind "import".
    assert await import_entries(database) == [
        ("ivan", "balance", D("120.50"), D("0"), D("120.50")),
        ("olena", "balance", D("-30.00"), D("0"), D("-30.00")),
        ("olena", "credit", D("200.00"), D("0"), D("200.00")),
        ("shop.1@isp", "balance", D("1000.00"), D("0"), D("1000.00")),
    ]


async def test_update_leaves_money_alone_by_default(database: Database, clock: FixedClock) -> None:
    importer = make_importer(database, clock)
    await run_file(importer, "subscribers_good.csv")
    created_entries = await import_entries(database)
    report = await run_file(importer, "subscribers_update.csv")
    # ivan: profile and phones; olena: only her credit differs, which is not applied.
    assert (report.created, report.updated, report.unchanged, report.skipped) == (1, 1, 2, [])
    people = await by_login(make_admin(database, clock))
    ivan = people["ivan"]
    assert (ivan.name, ivan.phones, ivan.tariff, ivan.fee, ivan.balance) == (
        "Іван Петренко-Нечуй",
        ("+380671112233",),
        "Home 200",
        D("250.00"),
        D("120.50"),
    )
    assert (people["olena"].credit, people["olena"].credit_expire) == (
        D("200.00"),
        date(2026, 11, 25),
    )
    assert people["newbie"].balance == D("10.00")
    assert "shop.1@isp" in people  # not in the file: left alone
    assert await import_entries(database) == sorted(
        [*created_entries, ("newbie", "balance", D("10.00"), D("0"), D("10.00"))]
    )
    # ivan's old numbers are free now.
    async with database.sessions() as session:
        phones = set(await session.scalars(select(SubscriberPhone.phone)))
    assert "+380501234567" not in phones
    assert "+380671112233" in phones


async def test_update_balances_sets_and_journals_money(
    database: Database, clock: FixedClock
) -> None:
    importer = make_importer(database, clock)
    await run_file(importer, "subscribers_good.csv")
    created_entries = await import_entries(database)
    report = await run_file(importer, "subscribers_update.csv", update_balances=True)
    assert (report.created, report.updated, report.unchanged, report.skipped) == (1, 2, 1, [])
    people = await by_login(make_admin(database, clock))
    assert people["ivan"].balance == D("500.00")
    assert (people["olena"].credit, people["olena"].credit_expire) == (
        D("300.00"),
        date(2026, 11, 30),
    )
    assert await import_entries(database) == sorted(
        [
            *created_entries,
            ("ivan", "balance", D("379.50"), D("120.50"), D("500.00")),
            ("olena", "credit", D("100.00"), D("200.00"), D("300.00")),
            ("newbie", "balance", D("10.00"), D("0"), D("10.00")),
        ]
    )
    records = await journal(database, clock).records("olena")
    assert next(r.detail for r in records if r.field == "credit") == "line 3, until 2026-11-30"
    # The same file again changes nothing and journals nothing.
    report = await run_file(importer, "subscribers_update.csv", update_balances=True)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 4)
    assert len(await import_entries(database)) == len(created_entries) + 3


BAD_FILE_SKIPS = [
    (3, "bad balance: more than two decimals: '12.345'"),
    (4, "bad credit_expire: '2026-02-30' is not a date"),
    (5, "bad frozen: 'yes' is not 0 or 1"),
    (6, "bad login 'bad login!'"),
    (7, "unparseable phone '12345abc'"),
    (8, "expected 10 fields, found 3"),
    (9, "line break inside a field"),
    (12, "phone +380501111111 already given to login good1 on line 2"),
    (13, "phone +380503333333 belongs to login owner"),
    (14, "login good1 already imported from line 2"),
    (15, "bad fee: negative '-5.00'"),
    (16, "credit 100.00 needs credit_expire"),
    (18, "expected 10 fields, found 11"),
    (19, "unreadable CSV"),
    (21, "bad balance: empty"),
    (22, "bad credit_expire: '26.11.2026' is not YYYY-MM-DD"),
]


@pytest.mark.parametrize("batch_rows", [500, 3, 1])
async def test_bad_rows_are_reported_by_line_and_good_rows_land(
    database: Database, clock: FixedClock, batch_rows: int
) -> None:
    admin = make_admin(database, clock)
    await admin.add("owner", phones=["0503333333"], actor="admin")
    progress: list[int] = []
    with (FIXTURES / "subscribers_bad.csv").open(encoding="utf-8-sig", newline="") as source:
        report = await make_importer(database, clock, batch_rows=batch_rows).run(
            source, actor="importer", progress=progress.append
        )
    assert [line for line, _ in report.skipped] == [line for line, _ in BAD_FILE_SKIPS]
    for (line, reason), (_, expected) in zip(report.skipped, BAD_FILE_SKIPS, strict=True):
        assert reason.startswith(expected), (line, reason)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    people = await by_login(admin)
    assert sorted(people) == ["good1", "good2", "good3", "owner"]
    assert people["good1"].name == "Good One"  # the repeat on line 14 did not land
    assert people["good1"].phones == ("+380501111111",)
    assert people["good3"].name == 'Ivanenko, "Ivan"'
    assert people["owner"].phones == ("+380503333333",)
    assert progress[-1] == 19  # records: line 10 continues 9, blank line 17 is none
    assert progress == sorted(progress)
    if batch_rows == 3:
        assert progress == [3, 6, 9, 12, 15, 18, 19]


async def test_line_numbers_after_quoted_line_breaks(database: Database, clock: FixedClock) -> None:
    source = io.StringIO(
        HEADER
        + 'a,"one\ntwo\nthree",,0.00,0.00,,,0.00,0,0\n'  # lines 2-4
        + "b,,,x,0.00,,,0.00,0,0\n"  # line 5
        + '"c\r\nd",,,0.00,0.00,,,0.00,0,0\n'  # lines 6-7
        + "e,,,0.00,0.00,,,0.00,0,2\n"  # line 8
        + "f,,,0.00,0.00,,,0.00,0,0\n"  # line 9
    )
    report = await make_importer(database, clock).run(source, actor="importer")
    assert [line for line, _ in report.skipped] == [2, 5, 6, 8]
    assert report.created == 1


async def test_same_number_written_differently_in_one_file(
    database: Database, clock: FixedClock
) -> None:
    source = io.StringIO(
        HEADER
        + "a,,0501234567,0.00,0.00,,,0.00,0,0\n"
        + "b,,+38 (050) 123-45-67,0.00,0.00,,,0.00,0,0\n"
        + "c,,380501234567;0671112233,0.00,0.00,,,0.00,0,0\n"
        + "d,,0671112233,0.00,0.00,,,0.00,0,0\n"
    )
    report = await make_importer(database, clock).run(source, actor="importer")
    assert report.skipped == [
        (3, "phone +380501234567 already given to login a on line 2"),
        (4, "phone +380501234567 already given to login a on line 2"),
    ]
    assert sorted(await by_login(make_admin(database, clock))) == ["a", "d"]


async def test_a_phone_moves_within_one_file(database: Database, clock: FixedClock) -> None:
    admin = make_admin(database, clock)
    await admin.add("a", phones=["0501234567"], actor="admin")
    source = io.StringIO(
        HEADER
        + "a,,0671112233,0.00,0.00,,,0.00,0,0\n"  # gives the number up ...
        + "b,,0501234567,0.00,0.00,,,0.00,0,0\n"  # ... so b may take it
    )
    report = await make_importer(database, clock).run(source, actor="importer")
    assert (report.created, report.updated, report.skipped) == (1, 1, [])
    people = await by_login(admin)
    assert people["a"].phones == ("+380671112233",)
    assert people["b"].phones == ("+380501234567",)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("login,name,phones,balance,credit,credit_expire,tariff,fee,frozen", "missing: disabled"),
        (HEADER.strip() + ",note", "unexpected: 'note'"),
        (HEADER.replace("credit_expire", "credit_expiry").strip(), "missing: credit_expire"),
        ("name,login,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled", "order"),
        ("", "the file is empty"),
    ],
)
async def test_a_bad_header_stops_everything(
    database: Database, clock: FixedClock, header: str, message: str
) -> None:
    source = io.StringIO(header + "\n" + "a,,,0.00,0.00,,,0.00,0,0\n" if header else "")
    with pytest.raises(AdminError, match=message):
        await make_importer(database, clock).run(source, actor="importer")
    assert await make_admin(database, clock).list() == []


async def test_a_file_that_is_not_utf8_stops_everything(
    database: Database, clock: FixedClock
) -> None:
    content = HEADER + "a,,,0.00,0.00,,,0.00,0,0\n" * 3 + "b,Іван,,0.00,0.00,,,0.00,0,0\n"
    raw = io.BytesIO(content.encode("cp1251"))
    with pytest.raises(AdminError, match="not UTF-8"):
        await make_importer(database, clock).run(
            io.TextIOWrapper(raw, encoding="utf-8", newline=""), actor="importer"
        )
    assert await make_admin(database, clock).list() == []


async def test_ten_thousand_rows(database: Database, clock: FixedClock, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(10_000):
            out.write(
                f"user{i:05d},Абонент {i},050{i:07d};+38067{i:07d},{i % 997}.25,0.00,,"
                f"Home,150.00,{i % 2},0\n"
            )
    progress: list[int] = []
    started = time.monotonic()
    with path.open(encoding="utf-8-sig", newline="") as source:
        report = await make_importer(database, clock).run(
            source, actor="importer", progress=progress.append
        )
    elapsed = time.monotonic() - started
    assert (report.created, report.skipped) == (10_000, [])
    async with database.sessions() as session:
        subscribers = await session.scalar(select(func.count()).select_from(Subscriber))
        phones = await session.scalar(select(func.count()).select_from(SubscriberPhone))
        frozen = await session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.frozen.is_(True))
        )
        entries = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert (subscribers, phones, frozen, entries) == (10_000, 20_000, 5_000, 10_000)
    assert progress == list(range(500, 10_001, 500))
    # A few seconds on a laptop; the bound only catches a return to row-at-a-time speed.
    assert elapsed < 30, f"10,000 rows took {elapsed:.1f} s"


async def test_a_writer_that_gets_in_between_costs_only_its_row(
    database: Database, clock: FixedClock
) -> None:
    """Another process stores a phone of the file while the import runs.

    On PostgreSQL the import does not see the uncommitted row when it checks, so its batch
    write hits the unique key: the batch is redone a row at a time and only that row is
    skipped. On SQLite the other writer holds the write lock, so the import waits, then
    sees the number taken when it checks.
    """
    other = create_engine(DatabaseSettings(url=database.url))
    try:
        async with session_factory(other).begin() as intruder:
            now = clock.now()
            intruder_id = await intruder.scalar(
                insert(Subscriber)
                .values(
                    login="intruder", name="", balance_cents=0, credit_cents=0, tariff="",
                    fee_cents=0, frozen=False, disabled=False, lock_seq=0, created_at=now,
                    updated_at=now,
                )
                .returning(Subscriber.id)
            )  # fmt: skip
            await intruder.execute(
                insert(SubscriberPhone).values(
                    phone="+380502222222", subscriber_id=intruder_id, position=0
                )
            )
            source = io.StringIO(
                HEADER
                + "a,,0501111111,1.00,0.00,,,0.00,0,0\n"
                + "b,,0502222222,2.00,0.00,,,0.00,0,0\n"
                + "c,,0503333333,3.00,0.00,,,0.00,0,0\n"
            )
            task = asyncio.create_task(make_importer(database, clock).run(source, actor="importer"))
            await _until_blocked(database, task)
        report = await task
    finally:
        await other.dispose()
    assert (report.created, [line for line, _ in report.skipped]) == (2, [3])
    if database.kind == "postgres":
        assert report.skipped[0][1] == "a login or phone of this row was taken meanwhile"
    else:
        assert report.skipped[0][1] == "phone +380502222222 belongs to login intruder"
    people = await by_login(make_admin(database, clock))
    assert sorted(people) == ["a", "c", "intruder"]
    assert await import_entries(database) == [
        ("a", "balance", D("1.00"), D("0"), D("1.00")),
        ("c", "balance", D("3.00"), D("0"), D("3.00")),
    ]


async def _until_blocked(database: Database, task: asyncio.Task[ImportReport]) -> None:
    """Wait until the import waits for the other writer's lock."""
    if database.kind != "postgres":
        await _until_it_asks_sqlite_s_write_lock(database, task)
        return
    probe = create_engine(DatabaseSettings(url=database.url))
    try:
        for _ in range(200):
            assert not task.done(), "the import finished without waiting for the other writer"
            async with probe.connect() as conn:
                waiting = await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the import never waited for the other writer")
    finally:
        await probe.dispose()


async def _until_it_asks_sqlite_s_write_lock(
    database: Database, task: asyncio.Task[ImportReport]
) -> None:
    """SQLite cannot tell who waits for its lock; the import's connection says when it sends
    the statement that takes it (a batch opens with it, see take_write_lock). The other
    writer holds the lock until this returns, so from then on the import is waiting."""
    asked = asyncio.Event()

    def before_execute(*args: Any) -> None:
        statement: str = args[2]
        if statement.startswith("UPDATE billing_subscribers SET lock_seq="):
            asked.set()

    # listening before the task first runs: it is created, not started, until we await
    event.listen(database.engine.sync_engine, "before_cursor_execute", before_execute)
    try:
        async with asyncio.timeout(10):
            await asked.wait()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", before_execute)
    assert not task.done(), "the import finished without waiting for the other writer"
