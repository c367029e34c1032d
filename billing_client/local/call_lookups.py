"""Call-time lookups of the embedded billing: one round trip to SQLite, and none at all
while the database has not changed.

Freshness is exact, not time-based. On SQLite, `PRAGMA data_version` changes whenever any
other connection (another process, the CLI, this process's own writers) commits. These
lookups use one dedicated read-only aiosqlite connection; each answer kept in memory is
tagged with the version read in the same statement as its row, and serves only while a
later version read still returns that number. A caller never reuses a version read that
began before it asked, so a change committed before a call began is always seen by that
call. With PostgreSQL every lookup is one query through the engine.

The version is read in the event-loop thread, on a second connection of its own that never
waits (busy_timeout 0): in WAL mode `data_version` is a look at the shared-memory index,
a few µs, where a hop to aiosqlite's thread and back costs the loop tens of µs and wakes
a second thread. When that read cannot be made at once (the database locked, as a rollback
journal's writer locks it), the version is read on the aiosqlite connection instead, where
waiting is harmless; concurrent callers share such a read. Rows are always read there: a
row may have to come from the disk.

Numbers never asked before are answered from memory too: the whole phone book (every
phone with its subscriber's row, read in one statement on the aiosqlite thread, as raw
tuples) is kept with the loop thread's version read just before it, and while that
version holds, a number is answered from it, and a number not in it is NOTFOUND. When the
version moves, calls go back to reading their row until a new copy is in; copies are
taken in the background, at most one at a time and no sooner than ten times the last
one's duration (and a second) after it, so a billing that writes all the time costs a
bounded share of a thread. A phone book larger than `max_entries` is not copied.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from billing_client.errors import BillingError
from billing_client.local.views import StoredSubscriber, info_from_stored
from billing_client.models import Subscriber, SubscriberPhone
from billing_client.outcomes import Lookup
from primitives.clock import Clock

_COLUMNS = (
    Subscriber.login,
    Subscriber.name,
    Subscriber.balance_cents,
    Subscriber.credit_cents,
    Subscriber.credit_expire,
    Subscriber.tariff,
    Subscriber.fee_cents,
    Subscriber.frozen,
    Subscriber.disabled,
    Subscriber.pin_hash.is_not(None),
)

_BY_PHONE = (
    select(*_COLUMNS)
    .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
    .where(SubscriberPhone.phone == bindparam("phone"))
)

_VERSION_SQL = "PRAGMA data_version"

_PHONE_BOOK_SQL = """
SELECT p.phone,
       s.login, s.name, s.balance_cents, s.credit_cents, s.credit_expire, s.tariff,
       s.fee_cents, s.frozen, s.disabled, s.pin_hash IS NOT NULL
FROM billing_subscriber_phones AS p
JOIN billing_subscribers AS s ON s.id = p.subscriber_id
"""

_PHONE_COUNT_SQL = "SELECT count(*) FROM billing_subscriber_phones"

# The same columns as _COLUMNS, with the version read in the same statement (one snapshot).
# Always one row: login NULL when the number is nobody's.
_VERSION_AND_ROW_SQL = """
SELECT (SELECT data_version FROM pragma_data_version),
       s.login, s.name, s.balance_cents, s.credit_cents, s.credit_expire, s.tariff,
       s.fee_cents, s.frozen, s.disabled, s.pin_hash IS NOT NULL
FROM (SELECT 1)
LEFT JOIN billing_subscriber_phones AS p ON p.phone = ?
LEFT JOIN billing_subscribers AS s ON s.id = p.subscriber_id
"""


def _stored(values: Sequence[Any]) -> StoredSubscriber:
    """A raw sqlite3 row (dates as text, booleans as 0/1) as StoredSubscriber."""
    login, name, balance, credit, expire, tariff, fee, frozen, disabled, has_pin = values
    return StoredSubscriber(
        login,
        name,
        balance,
        credit,
        date.fromisoformat(expire) if expire is not None else None,
        tariff,
        fee,
        bool(frozen),
        bool(disabled),
        bool(has_pin),
    )


class SqliteReader:
    """The dedicated read connection (rows, and versions when the database is locked) and
    the loop thread's own one for versions."""

    def __init__(self, path: Path, busy_timeout_ms: int = 30_000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._quick: sqlite3.Connection | None = None
        self._opening: asyncio.Lock | None = None
        self._waiting: asyncio.Future[int] | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._conn is None:
                    conn = await aiosqlite.connect(self._path)
                    await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
                    await conn.execute("PRAGMA query_only=ON")
                    self._conn = conn
        return self._conn

    async def version(self) -> int:
        """The database's version as of a read that started after this call, read on the
        aiosqlite connection (the same counter as `row`'s)."""
        loop = asyncio.get_running_loop()
        if self._waiting is None:
            self._waiting = loop.create_future()
            if self._reader_task is None or self._reader_task.done():
                self._reader_task = loop.create_task(self._serve())
        return await asyncio.shield(self._waiting)

    def quick_version(self) -> int | None:
        """The version read in this thread without waiting, or None when it cannot be read
        at once (locked, busy, not there yet): then the caller asks the aiosqlite thread."""
        try:
            if self._quick is None:
                # Opened without waiting too: a database that does not exist yet, or is
                # locked while its WAL index is rebuilt, gives None and the slow path.
                self._quick = sqlite3.connect(
                    f"file:{quote(str(self._path))}?mode=ro",
                    uri=True,
                    timeout=0,
                    check_same_thread=False,
                )
            row = self._quick.execute(_VERSION_SQL).fetchone()
        except sqlite3.Error:
            return None
        return int(row[0])

    async def _serve(self) -> None:
        """Read versions while callers wait; each read serves those who asked before it."""
        while self._waiting is not None:
            batch, self._waiting = self._waiting, None
            try:
                conn = await self._connection()
                rows = await conn.execute_fetchall(_VERSION_SQL)
                batch.set_result(int(next(iter(rows))[0]))
            except Exception as exc:
                batch.set_exception(BillingError(f"database unreadable: {exc}"))

    async def row(self, number: str) -> tuple[int, StoredSubscriber | None]:
        """(version, the subscriber owning `number` or None), read in one statement."""
        try:
            conn = await self._connection()
            rows = await conn.execute_fetchall(_VERSION_AND_ROW_SQL, (number,))
        except Exception as exc:
            raise BillingError(f"database unreadable: {exc}") from exc
        first = tuple(next(iter(rows)))
        version, values = int(first[0]), first[1:]
        return version, (None if values[0] is None else _stored(values))

    async def phone_book(self, limit: int) -> dict[str, tuple[Any, ...]] | None:
        """Every phone with its subscriber's raw columns (as `row` reads them), or None when
        there are more than `limit` phones."""
        try:
            conn = await self._connection()
            count = next(iter(await conn.execute_fetchall(_PHONE_COUNT_SQL)))[0]
            if count > limit:
                return None
            rows = await conn.execute_fetchall(_PHONE_BOOK_SQL)
        except Exception as exc:
            raise BillingError(f"database unreadable: {exc}") from exc
        return {row[0]: tuple(row[1:]) for row in rows}

    async def close(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class CallLookups:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        reader: SqliteReader | None,
        *,
        max_entries: int = 200_000,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._reader = reader
        self._max = max_entries
        # number -> (data_version of the read, the answer built from it); oldest first.
        # An answer depends on the day too (credit expiry), so it carries the day it is for.
        # Each connection counts data_version on its own, so a version says whose it is:
        # (True, n) the loop thread's quick read, (False, n) the aiosqlite connection's.
        self._known: OrderedDict[str, tuple[tuple[bool, int], Lookup, date]] = OrderedDict()
        # The phone book: every phone's raw row, valid while the loop thread's version
        # read before it (`_book_version`) still holds.
        self._book: dict[str, tuple[Any, ...]] = {}
        self._book_version: int | None = None
        self._copying: asyncio.Task[None] | None = None
        self._next_copy = 0.0

    async def find(self, number: str) -> Lookup:
        if self._reader is None:
            return self._answer(await self._query(number), self._clock.today())
        # Read before the row: a change committed in between makes the tag older than the
        # row, so the next call sees a new version and reads again (never the reverse).
        quick = self._reader.quick_version()
        known = await self._remembered(number, quick)
        if known is not None:
            return known
        version, values = await self._reader.row(number)
        today = self._clock.today()
        answer = self._answer(values, today)
        tag = (True, quick) if quick is not None else (False, version)
        self._known[number] = (tag, answer, today)
        if len(self._known) > self._max:
            self._known.popitem(last=False)
        return answer

    async def _remembered(self, number: str, quick: int | None) -> Lookup | None:
        """The answer from memory if the database has not changed since it was read."""
        entry = self._known.get(number)
        if quick is None:  # the loop thread could not read the version: ask the thread
            if entry is None or entry[0] != (False, await self._reader_version()):
                return None
        elif entry is None or entry[0] != (True, quick):
            if quick == self._book_version:
                return self._from_book(number, quick)
            self._copy_soon()
            return None
        return entry[1] if entry[2] == self._clock.today() else None

    async def _reader_version(self) -> int:
        assert self._reader is not None
        return await self._reader.version()

    def _from_book(self, number: str, version: int) -> Lookup:
        today = self._clock.today()
        values = self._book.get(number)
        answer = self._answer(None if values is None else _stored(values), today)
        self._known[number] = ((True, version), answer, today)
        if len(self._known) > self._max:
            self._known.popitem(last=False)
        return answer

    def _copy_soon(self) -> None:
        """Start a copy of the phone book unless one runs or the last one was too recent.
        Not on a process's first lookup: a process per call (classic AGI) never needs it."""
        if not self._known or (self._copying is not None and not self._copying.done()):
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_copy:
            return
        self._copying = loop.create_task(self.copy_phone_book())

    async def copy_phone_book(self) -> None:
        """Read the whole phone book (in the background; tests await it)."""
        assert self._reader is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._next_copy = started + 1.0  # also after a failure
        version = self._reader.quick_version()
        if version is None:
            return
        try:
            book = await self._reader.phone_book(self._max)
        except BillingError:
            return  # calls read their rows, and say so if the database is gone
        took = loop.time() - started
        self._next_copy = loop.time() + max(1.0, 10 * took)
        if book is None:
            self._book, self._book_version = {}, None
            return
        self._book, self._book_version = book, version

    async def _query(self, number: str) -> StoredSubscriber | None:
        try:
            async with self._engine.connect() as conn:
                row = (await conn.execute(_BY_PHONE, {"phone": number})).first()
        except SQLAlchemyError as exc:
            raise BillingError(f"database error: {type(exc).__name__}") from exc
        return None if row is None else StoredSubscriber._make(row)

    @staticmethod
    def _answer(values: StoredSubscriber | None, today: date) -> Lookup:
        if values is None:
            return Lookup.not_found()
        return Lookup.found(info_from_stored(values, today))

    async def aclose(self) -> None:
        if self._copying is not None and not self._copying.done():
            self._copying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._copying
        if self._reader is not None:
            await self._reader.close()
