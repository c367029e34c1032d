"""Call-time lookups: the same answers as the full lookup, and never stale."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.local.call_lookups import CallLookups
from billing_client.local.lookup_reader import SqliteReader
from billing_client.stale_cache import StaleCache
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory
from storage.engine import sqlite_path
from tests.conftest import Database

SUBSCRIBERS = [
    ("ivan", "0501110001", {"balance": Decimal("150"), "fee": Decimal("100"), "name": "Іван"}),
    ("debt", "0501110002", {"balance": Decimal("-50.25"), "fee": Decimal("100")}),
    ("frozen", "0501110003", {"balance": Decimal("5"), "frozen": True}),
    ("pin", "0501110004", {"pin": "1234", "tariff": "Home"}),
]


def reader_for(database: Database) -> SqliteReader | None:
    path = sqlite_path(database.url)
    return SqliteReader(path) if path is not None else None


async def seeded(
    database: Database, clock: FixedClock, *, max_entries: int = 200_000
) -> tuple[Path, SqliteReader, CallLookups]:
    """The seeded SQLite billing, its reader and the lookups on it (the caller closes them)."""
    path = sqlite_path(database.url)
    assert path is not None
    await seed(database, clock)
    reader = SqliteReader(path)
    return path, reader, CallLookups(database.engine, clock, reader, max_entries=max_entries)


async def seed(database: Database, clock: FixedClock) -> None:
    audit = AuditJournal(database.sessions, "local", clock)
    admin = LocalAdmin(database.sessions, clock, audit, PhoneNormaliser())
    for login, phone, fields in SUBSCRIBERS:
        await admin.add(login, phones=(phone,), actor="test", **fields)  # type: ignore[arg-type]
    today = clock.today()
    await admin.add(
        "credit",
        phones=("0501110005",),
        balance=Decimal("-20"),
        credit=Decimal("50"),
        credit_expire=today,
        fee=Decimal("200"),
        actor="test",
    )


async def test_same_answers_as_the_full_lookup(database: Database, clock: FixedClock) -> None:
    await seed(database, clock)
    audit = AuditJournal(database.sessions, "local", clock)
    full = LocalBackend(database.sessions, clock, audit)
    calls = CallLookups(database.engine, clock, reader_for(database))
    numbers = [f"+38050111000{i}" for i in range(1, 7)]
    try:
        for number in numbers * 2:  # the second round comes from memory on SQLite
            expected = await full.lookup_number(number)
            got = await calls.find(number)
            assert got.result == expected.result
            if expected.subscriber is None:
                assert got.subscriber is None
            else:
                # call lookups leave out the phone list, which no route needs
                assert got.subscriber == dataclasses.replace(expected.subscriber, phones=())
    finally:
        await calls.aclose()


async def test_a_change_by_another_connection_is_seen_by_the_next_call(
    database: Database, clock: FixedClock
) -> None:
    await seed(database, clock)
    calls = CallLookups(database.engine, clock, reader_for(database))
    other_engine = create_engine(DatabaseSettings(url=database.url))
    try:
        first = await calls.find("+380501110002")
        assert first.subscriber is not None
        assert first.subscriber.balance == Decimal("-50.25")
        if database.kind == "sqlite":  # an answer from memory while nothing changed
            assert (await calls.find("+380501110002")) is first
        # a payment through another engine, as another process would make it
        other_sessions = session_factory(other_engine)
        other_admin = LocalAdmin(
            other_sessions, clock, AuditJournal(other_sessions, "local", clock), PhoneNormaliser()
        )
        await other_admin.add_payment("debt", Decimal("100"), actor="other")
        paid = await calls.find("+380501110002")
        assert paid.subscriber is not None
        assert paid.subscriber.balance == Decimal("49.75")
        await other_admin.set_frozen("debt", True, actor="other")
        frozen = await calls.find("+380501110002")
        assert frozen.subscriber is not None
        assert int(frozen.subscriber.status) == 3
        await other_admin.delete("debt", actor="other")
        assert (await calls.find("+380501110002")).subscriber is None
    finally:
        await calls.aclose()
        await other_engine.dispose()


async def test_a_change_outside_pbxbridge_is_seen_too(
    sqlite_database: Database, clock: FixedClock
) -> None:
    database = sqlite_database
    path, _, calls = await seeded(database, clock)
    try:
        before = await calls.find("+380501110001")
        assert before.subscriber is not None
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE billing_subscribers SET name = 'Renamed' WHERE login = 'ivan'")
        after = await calls.find("+380501110001")
        assert after.subscriber is not None
        assert after.subscriber.name == "Renamed"
    finally:
        await calls.aclose()


async def test_the_next_day_recomputes_credit_and_days(
    database: Database, clock: FixedClock
) -> None:
    await seed(database, clock)
    calls = CallLookups(database.engine, clock, reader_for(database))
    try:
        today = await calls.find("+380501110005")
        assert today.subscriber is not None
        assert int(today.subscriber.status) == 1  # -20 covered by the credit until today
        clock.instant += timedelta(days=1)
        tomorrow = await calls.find("+380501110005")
        assert tomorrow.subscriber is not None
        assert int(tomorrow.subscriber.status) == 2  # the credit ended with its day
        assert tomorrow.subscriber.credit == Decimal("0.00")
        assert clock.today() == date(2026, 11, 23)
    finally:
        await calls.aclose()


async def test_concurrent_callers_share_version_reads(
    sqlite_database: Database, clock: FixedClock
) -> None:
    database = sqlite_database
    _, _, calls = await seeded(database, clock)
    try:
        numbers = ["+380501110001", "+380501110002", "+380501110009"] * 50
        first = await asyncio.gather(*(calls.find(n) for n in numbers))
        again = await asyncio.gather(*(calls.find(n) for n in numbers))
        for number, a, b in zip(numbers, first, again, strict=True):
            assert a.result == b.result
            assert (a.subscriber.login if a.subscriber else None) == (
                {"+380501110001": "ivan", "+380501110002": "debt"}.get(number)
            )
    finally:
        await calls.aclose()


async def test_a_memory_answer_costs_no_thread_hop_and_another_process_invalidates_it(
    sqlite_database: Database, clock: FixedClock
) -> None:
    database = sqlite_database
    path, reader, calls = await seeded(database, clock)
    try:
        first = await calls.find("+380501110003")
        assert first.subscriber is not None
        assert int(first.subscriber.status) == 3
        assert (await calls.find("+380501110003")) is first
        assert reader._reader_task is None  # the version came from the loop thread's read
        code = (
            "import sqlite3, sys\n"
            "with sqlite3.connect(sys.argv[1]) as c:\n"
            "    c.execute(\"UPDATE billing_subscribers SET frozen = 0 WHERE login = 'frozen'\")\n"
        )
        other = await asyncio.create_subprocess_exec(sys.executable, "-c", code, str(path))
        assert await other.wait() == 0
        thawed = await calls.find("+380501110003")
        assert thawed.subscriber is not None
        assert int(thawed.subscriber.status) == 1
        assert (await calls.find("+380501110003")) is thawed
    finally:
        await calls.aclose()


_MINIMAL_SCHEMA = """
CREATE TABLE billing_subscribers (
    id INTEGER PRIMARY KEY, login TEXT, name TEXT, balance_cents INTEGER,
    credit_cents INTEGER, credit_expire TEXT, tariff TEXT, fee_cents INTEGER,
    frozen INTEGER, disabled INTEGER, pin_hash TEXT);
CREATE TABLE billing_subscriber_phones (subscriber_id INTEGER, phone TEXT);
INSERT INTO billing_subscribers VALUES (1, 'ivan', 'Ivan', 15000, 0, NULL, 'Home', 10000,
    0, 0, NULL);
INSERT INTO billing_subscriber_phones VALUES (1, '+380501110001');
"""


async def test_a_locked_database_is_asked_on_the_thread_and_never_blocks_the_loop(
    tmp_path: Path, clock: FixedClock
) -> None:
    """A rollback-journal database whose writer holds its lock: the loop thread's version
    read gives up at once, the answer waits on aiosqlite's thread (ticks go on meanwhile)
    and is fresh once the writer commits."""
    path = tmp_path / "a journal #1?.db"  # the version read opens it as a URI
    with sqlite3.connect(path) as setup:
        setup.executescript(_MINIMAL_SCHEMA)
    reader = SqliteReader(path)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    calls = CallLookups(engine, clock, reader)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        before = await calls.find("+380501110001")
        assert before.subscriber is not None
        assert before.subscriber.name == "Ivan"
        assert reader.quick_version() is not None
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("UPDATE billing_subscribers SET name = 'Renamed'")
        assert reader.quick_version() is None
        ticks = 0
        answer = asyncio.ensure_future(calls.find("+380501110001"))
        while not answer.done() and ticks < 5:
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 5  # the loop runs on
        assert not answer.done()  # while the answer waits for the writer
        writer.execute("COMMIT")
        after = await answer
        assert after.subscriber is not None
        assert after.subscriber.name == "Renamed"
        assert reader.quick_version() is not None
    finally:
        writer.close()
        await calls.aclose()
        await engine.dispose()


async def test_the_phone_book_answers_new_numbers_and_a_change_retires_it(
    sqlite_database: Database, clock: FixedClock
) -> None:
    """Numbers never asked come from the copied phone book (unknown ones NOTFOUND) while
    the database stands still; a subscriber added or deleted by another connection after
    the copy is seen by the very next call, not taken from the old copy."""
    database = sqlite_database
    path = sqlite_path(database.url)
    assert path is not None
    await seed(database, clock)
    audit = AuditJournal(database.sessions, "local", clock)
    full = LocalBackend(database.sessions, clock, audit)
    calls = CallLookups(database.engine, clock, SqliteReader(path))
    other_engine = create_engine(DatabaseSettings(url=database.url))
    try:
        await calls.copy_phone_book()
        assert calls._book_version is not None  # copied: the calls below read no row
        for number in [f"+38050111000{i}" for i in range(1, 7)]:
            expected = await full.lookup_number(number)
            got = await calls.find(number)
            assert got.result == expected.result
            if expected.subscriber is None:
                assert got.subscriber is None
            else:
                assert got.subscriber == dataclasses.replace(expected.subscriber, phones=())
            assert (await calls.find(number)) is got
        other_sessions = session_factory(other_engine)
        other_admin = LocalAdmin(
            other_sessions, clock, AuditJournal(other_sessions, "local", clock), PhoneNormaliser()
        )
        await other_admin.add("newbie", phones=("0501110009",), actor="other")
        newbie = await calls.find("+380501110009")
        assert newbie.subscriber is not None
        assert newbie.subscriber.login == "newbie"
        await calls.copy_phone_book()
        await other_admin.delete("ivan", actor="other")
        assert (await calls.find("+380501110001")).subscriber is None
        await calls.copy_phone_book()
        assert (await calls.find("+380501110001")).subscriber is None
        assert (await calls.find("+380501110009")).subscriber is not None
    finally:
        await calls.aclose()
        await other_engine.dispose()


async def test_a_phone_book_over_the_limit_is_not_copied(
    sqlite_database: Database, clock: FixedClock
) -> None:
    database = sqlite_database
    _, _, calls = await seeded(database, clock, max_entries=2)
    try:
        await calls.copy_phone_book()
        assert calls._book_version is None
        found = await calls.find("+380501110002")
        assert found.subscriber is not None
        assert found.subscriber.login == "debt"
        assert (await calls.find("+380501110009")).subscriber is None
    finally:
        await calls.aclose()


def copying(calls: CallLookups) -> asyncio.Task[None] | None:
    return calls._copying


async def test_the_first_lookup_copies_nothing_the_second_starts_the_copy(
    sqlite_database: Database, clock: FixedClock
) -> None:
    """A process per call (classic AGI) makes one lookup: it must not pay for a copy."""
    database = sqlite_database
    _, _, calls = await seeded(database, clock)
    try:
        await calls.find("+380501110001")
        assert copying(calls) is None
        await calls.find("+380501110002")
        task = copying(calls)
        assert task is not None
        await task
        assert calls._book_version is not None
        found = await calls.find("+380501110003")
        assert found.subscriber is not None
        assert found.subscriber.login == "frozen"
    finally:
        await calls.aclose()


def write(path: Path, *statements: str) -> None:
    """Commit `statements` from another connection, as another process or tool would."""
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


async def test_a_commit_elsewhere_in_the_database_keeps_the_answers_and_the_book(
    sqlite_database: Database, clock: FixedClock
) -> None:
    """The SMS worker's heartbeat, the call log, the audit journal commit all the time: they
    must not retire what lookups keep (each retirement cost the calls in flight a copy of
    the phone book and their rows read again)."""
    database = sqlite_database
    path, reader, calls = await seeded(database, clock)
    try:
        await calls.copy_phone_book()
        book = calls._book_version
        assert book is not None
        assert reader.stamped is True
        first = await calls.find("+380501110001")
        for statement in (
            "INSERT INTO billing_fee_days (day, finished_at) VALUES ('2026-11-22', '2026-11-22')",
            "UPDATE billing_fee_days SET finished_at = '2026-11-23'",
            "DELETE FROM billing_fee_days",
        ):
            seen = reader._seen_data
            write(path, statement)
            assert (await calls.find("+380501110001")) is first
            assert reader._seen_data != seen  # the commit was noticed, and looked at
            assert calls._book_version == book
            stranger = await calls.find("+380501110009")  # from the book, no row read
            assert stranger.subscriber is None
        assert reader._reader_task is None
        assert reader._conn is not None  # opened by the copy, used by nothing since
    finally:
        await calls.aclose()


async def test_every_kind_of_change_to_subscribers_and_phones_is_seen(
    sqlite_database: Database, clock: FixedClock
) -> None:
    """Insert, update and delete on both tables a lookup reads, each committed by another
    connection with plain SQL (no pbxbridge code), each seen by the very next call."""
    database = sqlite_database
    path, _, calls = await seeded(database, clock)

    async def login_of(number: str) -> str | None:
        found = await calls.find(number)
        await calls.copy_phone_book()  # the next answer could come from a fresh book
        return found.subscriber.login if found.subscriber else None

    try:
        assert await login_of("+380501110001") == "ivan"
        write(
            path,
            "UPDATE billing_subscriber_phones SET phone = '+380501110019'"
            " WHERE phone = '+380501110001'",
        )
        assert await login_of("+380501110001") is None
        assert await login_of("+380501110019") == "ivan"
        write(
            path,
            "INSERT INTO billing_subscriber_phones (phone, subscriber_id, position)"
            " SELECT '+380501110001', id, 1 FROM billing_subscribers WHERE login = 'debt'",
        )
        assert await login_of("+380501110001") == "debt"
        write(path, "DELETE FROM billing_subscriber_phones WHERE phone = '+380501110001'")
        assert await login_of("+380501110001") is None
        write(path, "UPDATE billing_subscribers SET login = 'ivan2' WHERE login = 'ivan'")
        assert await login_of("+380501110019") == "ivan2"
        write(path, "DELETE FROM billing_subscribers WHERE login = 'ivan2'")
        assert await login_of("+380501110019") is None
        write(
            path,
            "INSERT INTO billing_subscribers (login, name, balance_cents, credit_cents, tariff,"
            " fee_cents, frozen, disabled, lock_seq, created_at, updated_at) VALUES"
            " ('late', '', 0, 0, '', 0, 0, 0, 0, '2026-11-22', '2026-11-22')",
            "INSERT INTO billing_subscriber_phones (phone, subscriber_id, position)"
            " SELECT '+380501110029', id, 0 FROM billing_subscribers WHERE login = 'late'",
        )
        assert await login_of("+380501110029") == "late"
    finally:
        await calls.aclose()


async def test_without_the_change_counter_any_commit_retires_the_answers(
    tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A database not upgraded (or made by hand) has no counter: versions fall back to
    data_version, still fresh, and one line says why lookups read more than they could."""
    path = tmp_path / "minimal.db"
    with sqlite3.connect(path) as setup:
        setup.executescript(_MINIMAL_SCHEMA + "CREATE TABLE other (x INTEGER);")
    reader = SqliteReader(path)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    calls = CallLookups(engine, clock, reader)
    try:
        with caplog.at_level(logging.WARNING, logger="pbxbridge.billing.lookups"):
            first = await calls.find("+380501110001")
            assert (await calls.find("+380501110001")) is first
            assert reader.stamped is False
            write(path, "INSERT INTO other VALUES (1)")
            again = await calls.find("+380501110001")
            assert again is not first  # read again: any commit may have been the billing's
            write(path, "UPDATE billing_subscribers SET name = 'Renamed'")
            renamed = await calls.find("+380501110001")
        assert renamed.subscriber is not None
        assert renamed.subscriber.name == "Renamed"
        warnings = [r for r in caplog.records if "change counter" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        await calls.aclose()
        await engine.dispose()


async def test_a_trigger_dropped_while_running_is_noticed_before_an_answer_goes_stale(
    sqlite_database: Database, clock: FixedClock
) -> None:
    """Someone drops one of the counter's triggers by hand: the schema's version moves, the
    next version read looks again, falls back to data_version, and the change made without
    the trigger is seen."""
    database = sqlite_database
    path, reader, calls = await seeded(database, clock)
    try:
        first = await calls.find("+380501110001")
        assert reader.stamped is True
        write(path, "DROP TRIGGER billing_subscribers_stamp_update")
        write(path, "UPDATE billing_subscribers SET name = 'Unseen?' WHERE login = 'ivan'")
        after = await calls.find("+380501110001")
        assert after is not first
        assert after.subscriber is not None
        assert after.subscriber.name == "Unseen?"
        assert reader.stamped is False
    finally:
        await calls.aclose()


async def test_a_call_answered_from_memory_waits_for_nothing_and_is_counted(
    sqlite_database: Database, clock: FixedClock
) -> None:
    """BillingClient takes a remembered answer without arming the lookup's deadline (the
    backend gives it without awaiting); it is the same answer, counted like any other
    lookup in /metrics, and kept for the stale cache."""
    database = sqlite_database
    path = sqlite_path(database.url)
    assert path is not None
    await seed(database, clock)
    audit = AuditJournal(database.sessions, "local", clock)
    backend = LocalBackend(
        database.sessions,
        clock,
        audit,
        calls=CallLookups(database.engine, clock, SqliteReader(path)),
    )
    client = BillingClient(backend, PhoneNormaliser(), lookup_timeout=1.0, stale=StaleCache(60))
    try:
        assert backend.lookup_call_now("+380501110001") is None  # nothing read yet
        first = await client.lookup_call("0501110001")
        now = backend.lookup_call_now("+380501110001")
        assert now is first
        assert (await client.lookup_call("0501110001")) is first
        assert backend.stats.requests["lookup_call"] == 3
        assert client.stale_answers == 1
        write(path, "UPDATE billing_subscribers SET name = 'Renamed' WHERE login = 'ivan'")
        assert backend.lookup_call_now("+380501110001") is None  # changed: must be read
        renamed = await client.lookup_call("0501110001")
        assert renamed.subscriber is not None
        assert renamed.subscriber.name == "Renamed"
    finally:
        await client.aclose()
