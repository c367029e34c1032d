"""Two per-call cuts tried for issue 14, µs per call (uvloop, in-process, medians of five
rounds):

- a call answered from the embedded billing's memory, through BillingClient.lookup_call:
  before, the answer was awaited under `asyncio.timeout_at` (the lookup's deadline) through
  the backend's coroutines; after, `lookup_call_now` hands it over without awaiting.
- one command line to a peer over a real loopback socket: `write` then `await drain()`
  (before) or `write`, and drain only when the transport holds unsent bytes (after). It
  saved nothing measurable (0.7 µs either way: uvloop's drain returns at once), so the
  session still drains after every write; the line stays here as the measurement.

    python bench/fastpath_bench.py
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.local.call_lookups import CallLookups
from billing_client.local.lookup_reader import SqliteReader
from billing_client.stale_cache import StaleCache
from pbxbridge import migrations
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory

CALLS = 20_000


async def _median(body: Callable[[], Awaitable[object]], calls: int = CALLS) -> float:
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            await body()
        rounds.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(rounds)


async def lookups(folder: Path) -> tuple[float, float]:
    path = folder / "billing.db"
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    await migrations.upgrade(engine)
    sessions = session_factory(engine)
    clock = FixedClock(datetime(2026, 12, 5, 10, 0, tzinfo=UTC))
    audit = AuditJournal(sessions, "local", clock)
    admin = LocalAdmin(sessions, clock, audit, PhoneNormaliser())
    await admin.add("ivan", phones=("0501110001",), balance=Decimal(150), actor="bench")
    backend = LocalBackend(
        sessions, clock, audit, calls=CallLookups(engine, clock, SqliteReader(path))
    )
    client = BillingClient(backend, PhoneNormaliser(), lookup_timeout=3.0, stale=StaleCache(60))
    try:
        await client.lookup_call("0501110001")
        assert backend.lookup_call_now("+380501110001") is not None

        async def before() -> object:
            # What lookup_call did for every call until now.
            number = client.phones.normalise("0501110001")
            assert number is not None
            due = asyncio.get_running_loop().time() + client.lookup_timeout
            async with asyncio.timeout_at(due):
                return await backend.lookup_call(number, deadline=due, details=False)

        async def after() -> object:
            return await client.lookup_call("0501110001", details=False)

        return await _median(before), await _median(after)
    finally:
        await client.aclose()
        await engine.dispose()


async def commands() -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    sink = right

    def swallow() -> None:
        with contextlib.suppress(BlockingIOError):
            while sink.recv(65536):
                pass

    right.setblocking(False)
    loop.add_reader(right.fileno(), swallow)
    _, writer = await asyncio.open_connection(sock=left)
    line = b'SET VARIABLE SUBSCRIBER_STATUS "1"\n'
    try:

        async def before() -> None:
            writer.write(line)
            await writer.drain()

        async def after() -> None:
            writer.write(line)
            if writer.transport.get_write_buffer_size():
                await writer.drain()

        return await _median(before), await _median(after)
    finally:
        loop.remove_reader(right.fileno())
        writer.close()
        right.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        lookup_before, lookup_after = await lookups(Path(folder))
    write_before, write_after = await commands()
    print("| per call | before µs | after µs | saved µs |")
    print("|---|---:|---:|---:|")
    print(
        f"| remembered answer through BillingClient.lookup_call | {lookup_before:.1f} "
        f"| {lookup_after:.1f} | {lookup_before - lookup_after:.1f} |"
    )
    print(
        f"| one command line written (×4 SET VARIABLE a session) | {write_before:.1f} "
        f"| {write_after:.1f} | {write_before - write_after:.1f} |"
    )


if __name__ == "__main__":
    uvloop.run(main())
