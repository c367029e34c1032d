"""SQLite reads for call lookups: the billing's version, and a number's row.

A version says whether anything a lookup reads may have changed since an answer was kept.
It is the count in `billing_lookup_stamp`, which SQLite triggers (migration b1_0003) move
in the same transaction as every insert, update or delete of a subscriber or a phone, in
whatever process or tool commits it. `PRAGMA data_version` alone would do, but it moves on
a commit to any table: on a working PBX the SMS worker's heartbeat, the call log and the
outboxes commit several times a second, and each commit would throw away every kept answer
and start a copy of the phone book (measured: a stall of 100-200 ms for the 200 calls in
flight of `make bench`, every 5 s, from the SMS worker's heartbeat alone).

So the loop thread reads `data_version` first (3 µs, a look at the WAL index); while it
holds, nothing was committed and the last version stands. When it moves, the stamp is read
(and, when the schema moved too, whether the stamp and its six triggers are all there).
A database without them (not upgraded, or made by hand) falls back to `data_version`:
still exact, only retired more often; such versions are written -1 - data_version, so the
two kinds never meet. A line says so once.

The loop thread's reads use a connection of its own that never waits (busy_timeout 0):
when a read cannot be made at once, the caller asks aiosqlite's thread instead, where
waiting is harmless and concurrent callers share one read. Rows are always read there: a
row may have to come from the disk.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite

from billing_client.errors import BillingError
from billing_client.local.views import StoredSubscriber

log = logging.getLogger("pbxbridge.billing.lookups")

# Migration b1_0003's table and triggers, each on its table (a table renamed away takes
# its triggers along): all seven, or versions fall back to data_version.
_STAMP_PARTS_SQL = """
SELECT count(*) FROM sqlite_master
WHERE (type = 'table' AND name = 'billing_lookup_stamp')
   OR (type = 'trigger' AND tbl_name = 'billing_subscribers' AND name IN (
       'billing_subscribers_stamp_insert', 'billing_subscribers_stamp_update',
       'billing_subscribers_stamp_delete'))
   OR (type = 'trigger' AND tbl_name = 'billing_subscriber_phones' AND name IN (
       'billing_subscriber_phones_stamp_insert', 'billing_subscriber_phones_stamp_update',
       'billing_subscriber_phones_stamp_delete'))
"""
_STAMP_PARTS = 7

_STAMP_SQL = "SELECT changes FROM billing_lookup_stamp WHERE id = 1"
_DATA_VERSION_SQL = "SELECT -1 - data_version FROM pragma_data_version"
_VERSION_SQL = {True: _STAMP_SQL, False: _DATA_VERSION_SQL}

# The version and the row in one statement (one snapshot). Always one row: login NULL
# when the number is nobody's.
_VERSION_AND_ROW_SQL = {
    stamped: f"""
SELECT ({version}),
       s.login, s.name, s.balance_cents, s.credit_cents, s.credit_expire, s.tariff,
       s.fee_cents, s.frozen, s.disabled, s.pin_hash IS NOT NULL
FROM (SELECT 1)
LEFT JOIN billing_subscriber_phones AS p ON p.phone = ?
LEFT JOIN billing_subscribers AS s ON s.id = p.subscriber_id
"""  # noqa: S608 - both versions are the constants above
    for stamped, version in _VERSION_SQL.items()
}

_PHONE_COUNT_SQL = "SELECT count(*) FROM billing_subscriber_phones"

_PHONE_BOOK_SQL = """
SELECT p.phone,
       s.login, s.name, s.balance_cents, s.credit_cents, s.credit_expire, s.tariff,
       s.fee_cents, s.frozen, s.disabled, s.pin_hash IS NOT NULL
FROM billing_subscriber_phones AS p
JOIN billing_subscribers AS s ON s.id = p.subscriber_id
"""


def stored(values: Sequence[Any]) -> StoredSubscriber:
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


def _has_stamp(conn: sqlite3.Connection) -> bool:
    (found,) = conn.execute(_STAMP_PARTS_SQL).fetchone()
    return int(found) == _STAMP_PARTS


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
        # Whether versions are the stamp (None: not known yet; the first read that can
        # look at the schema decides, and every change of the schema decides again).
        self._stamped: bool | None = None
        self._warned = False
        # The loop thread's last data_version and schema_version, and the version then.
        self._seen_data: int | None = None
        self._seen_schema: int | None = None
        self._version: int = 0

    @property
    def stamped(self) -> bool | None:
        """Whether versions come from the billing's change counter (None: not read yet)."""
        return self._stamped

    def _decide(self, stamped: bool) -> None:
        self._stamped = stamped
        if not stamped and not self._warned:
            self._warned = True
            log.warning(
                "the billing's change counter (%s and its triggers) is missing in %s: call "
                "lookups keep answers only until any commit to the database; "
                "`pbxbridge db upgrade` adds it",
                "billing_lookup_stamp",
                self._path,
            )

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._conn is None:
                    conn = await aiosqlite.connect(self._path)
                    await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
                    await conn.execute("PRAGMA query_only=ON")
                    if self._stamped is None:
                        rows = await conn.execute_fetchall(_STAMP_PARTS_SQL)
                        self._decide(int(next(iter(rows))[0]) == _STAMP_PARTS)
                    self._conn = conn
        return self._conn

    async def version(self) -> int:
        """The billing's version as of a read that started after this call, read on the
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
            conn = self._quick
            (data,) = conn.execute("PRAGMA data_version").fetchone()
            if data == self._seen_data:  # nobody committed anything since the last read
                return self._version
            (schema,) = conn.execute("PRAGMA schema_version").fetchone()
            if schema != self._seen_schema:
                self._decide(_has_stamp(conn))
            stamped = bool(self._stamped)
            (version,) = conn.execute(_VERSION_SQL[stamped]).fetchone()
        except sqlite3.Error:
            return None
        # Recorded only now: a failed read above leaves the next one to read it all again.
        self._seen_data, self._seen_schema, self._version = data, schema, int(version)
        return self._version

    async def _serve(self) -> None:
        """Read versions while callers wait; each read serves those who asked before it."""
        while self._waiting is not None:
            batch, self._waiting = self._waiting, None
            try:
                conn = await self._connection()
                rows = await conn.execute_fetchall(_VERSION_SQL[bool(self._stamped)])
                batch.set_result(int(next(iter(rows))[0]))
            except Exception as exc:
                batch.set_exception(BillingError(f"database unreadable: {exc}"))

    async def row(self, number: str) -> tuple[int, StoredSubscriber | None]:
        """(version, the subscriber owning `number` or None), read in one statement."""
        try:
            conn = await self._connection()
            sql = _VERSION_AND_ROW_SQL[bool(self._stamped)]
            rows = await conn.execute_fetchall(sql, (number,))
        except Exception as exc:
            raise BillingError(f"database unreadable: {exc}") from exc
        first = tuple(next(iter(rows)))
        version, values = int(first[0]), first[1:]
        return version, (None if values[0] is None else stored(values))

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
