"""Call-time lookups of the embedded billing: one round trip to SQLite, and none at all
while the billing has not changed.

Freshness is exact, not time-based. On SQLite, a version (`lookup_reader`: a counter that
triggers move with every change of a subscriber or a phone, in any process) says whether
anything a lookup reads may have changed. Each answer kept in memory is tagged with the
version read in the same statement as its row, and serves only while a later version read
still returns that number. A caller never reuses a version read that began before it
asked, so a change committed before a call began is always seen by that call. With
PostgreSQL every lookup is one query through the engine.

The version is read in the event-loop thread, on a connection of its own that never waits
(a few µs, where a hop to aiosqlite's thread and back costs the loop tens of µs and wakes
a second thread); when that read cannot be made at once (the database locked), it is read
on aiosqlite's thread instead. Rows are always read there.

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
from collections import OrderedDict
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from billing_client.errors import BillingError
from billing_client.local.lookup_reader import SqliteReader, stored
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

    def known(self, number: str) -> Lookup | None:
        """The answer from memory, with the version read now in this thread, when memory
        has a fresh one; None when `find` must read (or the version cannot be read at once).
        """
        if self._reader is None:
            return None
        quick = self._reader.quick_version()
        return None if quick is None else self._remembered(number, quick)

    async def find(self, number: str) -> Lookup:
        if self._reader is None:
            return self._answer(await self._query(number), self._clock.today())
        # Read before the row: a change committed in between makes the tag older than the
        # row, so the next call sees a new version and reads again (never the reverse).
        quick = self._reader.quick_version()
        if quick is not None:
            known = self._remembered(number, quick)
        else:  # the loop thread could not read the version: ask the thread
            known = await self._remembered_by_thread(number)
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

    def _remembered(self, number: str, quick: int) -> Lookup | None:
        """The answer from memory if the billing has not changed since it was read."""
        entry = self._known.get(number)
        if entry is None or entry[0] != (True, quick):
            if quick == self._book_version:
                return self._from_book(number, quick)
            self._copy_soon()
            return None
        return entry[1] if entry[2] == self._clock.today() else None

    async def _remembered_by_thread(self, number: str) -> Lookup | None:
        entry = self._known.get(number)
        if entry is None or entry[0] != (False, await self._reader_version()):
            return None
        return entry[1] if entry[2] == self._clock.today() else None

    async def _reader_version(self) -> int:
        assert self._reader is not None
        return await self._reader.version()

    def _from_book(self, number: str, version: int) -> Lookup:
        today = self._clock.today()
        values = self._book.get(number)
        answer = self._answer(None if values is None else stored(values), today)
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
