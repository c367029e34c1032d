"""The TelePony feed's rig: pbxbridge's database (SQLite, and PostgreSQL where it runs),
a throwaway MariaDB database, the capture's `Cdr` events, and time the test passes.

`tests/fixtures/asterisk/ami-session-missed-answered-queue.raw` is the real Asterisk
capture: its nine `Cdr` events are what cdr_manager sends for a missed call, an answered
one and a caller leaving an empty queue. Events built with `cdr_event()` are HAND-MADE,
shaped after those.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ami_listener.message import AmiMessage, parse_message
from primitives.clock import FixedClock
from telepony.feed import TeleponyFeed
from telepony.settings import TeleponySettings
from tests.conftest import Database
from tests.fakes.ami_asterisk import Capture

WITHIN = 10.0
"""Seconds a test waits for the feed to reach a point (never a sleep)."""


def capture_cdrs() -> list[AmiMessage]:
    """The capture's Cdr events, in the order Asterisk sent them."""
    return [m for m in Capture.load("queue").parsed if m.name == "Cdr"]


def cdr_event(uniqueid: str, **headers: str) -> AmiMessage:
    """A HAND-MADE Cdr event: the capture's answered Dial leg with `headers` changed."""
    base = {
        "Privilege": "cdr,all",
        "AccountCode": "",
        "Source": "0939876543",
        "Destination": "101",
        "DestinationContext": "inbound-test",
        "CallerID": '"" <0939876543>',
        "Channel": "Local/101@inbound-test-00000008;2",
        "DestinationChannel": "Local/s@campaign-test-00000009;1",
        "LastApplication": "Dial",
        "LastData": "Local/s@campaign-test,10",
        "StartTime": "2026-11-22 01:38:12",
        "AnswerTime": "2026-11-22 01:38:12",
        "EndTime": "2026-11-22 01:38:14",
        "Duration": "1",
        "BillableSeconds": "1",
        "Disposition": "ANSWERED",
        "AMAFlags": "DOCUMENTATION",
        "UniqueID": uniqueid,
        "UserField": "",
    }
    base.update(headers)
    return parse_message("\r\n".join(["Event: Cdr", *(f"{k}: {v}" for k, v in base.items())]))


class SteppedSleep:
    """The feed's retry waits: each ends only when the test passes it (no real second)."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.sleeping = asyncio.Event()
        self.resumed = asyncio.Event()
        self._wakeup: asyncio.Future[None] | None = None

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._wakeup = asyncio.get_running_loop().create_future()
        self.sleeping.set()
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            self.sleeping.clear()
            self.resumed.set()

    async def reached(self) -> None:
        """Until the feed waits to retry."""
        await asyncio.wait_for(self.sleeping.wait(), WITHIN)

    async def pass_time(self) -> None:
        """End the wait under way (waiting for one first) and let the feed go on."""
        await self.reached()
        assert self._wakeup is not None
        self.resumed.clear()
        self._wakeup.set_result(None)
        await asyncio.wait_for(self.resumed.wait(), WITHIN)


@dataclass
class Told:
    """The alert sink: what staff were told, and an event per message."""

    messages: list[str] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, message: str) -> None:
        self.messages.append(message)
        async with self.arrived:
            self.arrived.notify_all()

    async def count(self, n: int) -> None:
        async with asyncio.timeout(WITHIN), self.arrived:
            await self.arrived.wait_for(lambda: len(self.messages) >= n)


@dataclass
class Rig:
    db: Database
    mysql_url: str
    clock: FixedClock
    told: Told = field(default_factory=Told)
    sleep: SteppedSleep = field(default_factory=SteppedSleep)
    feeds: list[TeleponyFeed] = field(default_factory=list)

    def settings(self, url: str | None = None, **overrides: Any) -> TeleponySettings:
        values: dict[str, Any] = {"url": url or self.mysql_url, "flush_interval": 0.0}
        values.update(overrides)
        return TeleponySettings(**values)

    def feed(self, url: str | None = None, **overrides: Any) -> TeleponyFeed:
        feed = TeleponyFeed(
            self.db.sessions,
            self.clock,
            self.settings(url, **overrides),
            alert=self.told,
            sleep=self.sleep,
        )
        self.feeds.append(feed)
        return feed

    def via(self, port: int) -> str:
        """The MariaDB database's URL through another port (a proxy, or nothing)."""
        url = make_url(self.mysql_url)
        return url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

    async def rows(self, table: str = "cdr") -> list[dict[str, Any]]:
        """The table's rows as MySQL returns them, in insertion order."""
        return await self.query(f"SELECT * FROM `{table}`")  # noqa: S608 (a literal name)

    async def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = create_async_engine(self.mysql_url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(text(sql), params)
                return [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    async def execute(self, sql: str) -> None:
        engine = create_async_engine(self.mysql_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()


@asynccontextmanager
async def rig_on(database: Database, mysql_url: str, clock: FixedClock) -> AsyncIterator[Rig]:
    made = Rig(database, mysql_url, clock)
    try:
        yield made
    finally:
        for feed in made.feeds:
            await feed.stop()


@pytest.fixture
async def rig(sqlite_database: Database, mysql_url: str, clock: FixedClock) -> AsyncIterator[Rig]:
    """On SQLite; the tests of the outbox across a restart also run on PostgreSQL."""
    async with rig_on(sqlite_database, mysql_url, clock) as made:
        yield made


async def drained(feed: TeleponyFeed) -> None:
    """Until the feed's outbox is empty."""
    await feed.wait_until(lambda: feed.queued == 0, WITHIN)
