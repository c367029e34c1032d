"""(e) A what-if, for the profile report only: `pbxbridge run` exactly as shipped, except
that the embedded billing answers lookups with one SQL statement on one long-lived
aiosqlite connection (one thread round trip), instead of an ORM session per call.

Everything else is the real thing, wired as `pbxbridge.app.Service` does: settings from
the config file, `open_core`, `BillingClient` (normalisation, deadline, stale cache),
`build_route_deps`, `build_handlers`, `FastAgiServer`, the askozianum route and its
logging. Only `LocalBackend.lookup_number` is replaced (in a subclass defined here), so
the difference from (a) is what that one suggestion would buy.

Run: python bench/raw_lookup_server.py --config /tmp/…/pbxbridge.toml --port 4577
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from billing_client.local.lookup_reader import stored
from billing_client.local.views import info_from_stored
from billing_client.outcomes import Lookup
from billing_client.stale_cache import StaleCache
from pbxbridge.app import Core, Service, open_core
from pbxbridge.logs import configure_logging
from pbxbridge.settings import load_settings
from storage.engine import sqlite_path

SQL = (
    "SELECT s.login, s.name, s.balance_cents, s.credit_cents, s.credit_expire, s.tariff,"
    " s.fee_cents, s.frozen, s.disabled, s.pin_hash IS NOT NULL"
    " FROM billing_subscriber_phones AS p JOIN billing_subscribers AS s"
    " ON s.id = p.subscriber_id WHERE p.phone = ?"
)


class OneStatementBackend(LocalBackend):
    """LocalBackend whose number lookups are one statement on a dedicated connection.

    The connection never holds a transaction open (sqlite3 autocommit for SELECT), so
    every lookup reads the newest committed data, like a fresh ORM session does.
    """

    def __init__(self, core: Core, fetch: Fetch) -> None:
        super().__init__(
            core.sessions,
            core.clock,
            core.audit,
            credit_amount=core.settings.billing.credit_amount,
        )
        self._fetch = fetch

    def lookup_call_now(self, number: str) -> Lookup | None:
        return None

    async def lookup_call(
        self,
        number: str,
        *,
        uniqueid: str | None = None,
        deadline: float | None = None,
        details: bool = True,
    ) -> Lookup:
        """What the IVR's routes ask: here, the one statement (no memory)."""
        return await self.lookup_number(number)

    async def lookup_number(self, number: str) -> Lookup:
        rows = await self._fetch(number)
        if not rows:
            return Lookup.not_found()
        return Lookup.found(info_from_stored(stored(rows[0]), self._clock.today(), (number,)))


Fetch = Callable[[str], Awaitable[list[Any]]]


def thread_fetch(db: aiosqlite.Connection) -> Fetch:
    """One round trip to aiosqlite's thread per lookup."""

    async def fetch(number: str) -> list[Any]:
        return list(await db.execute_fetchall(SQL, (number,)))

    return fetch


def inloop_fetch(db: sqlite3.Connection) -> Fetch:
    """The statement run in the event loop's own thread (it blocks the loop for its
    duration: tens of µs for this primary-key read in WAL mode, where readers never wait
    for writers)."""

    async def fetch(number: str) -> list[Any]:
        return db.execute(SQL, (number,)).fetchall()

    return fetch


async def serve(config: Path, port: int, mode: str) -> None:
    settings, _ = load_settings(config)
    settings = settings.model_copy(update={"agi": settings.agi.model_copy(update={"port": port})})
    configure_logging(settings.logging, settings.secrets(), settings.timezone)
    path = sqlite_path(settings.database.url)
    assert path is not None, "the what-if needs the embedded billing on SQLite"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    busy = settings.database.busy_timeout_ms
    async with contextlib.AsyncExitStack() as stack:
        core = await stack.enter_async_context(open_core(settings))
        if mode == "thread":
            adb = await stack.enter_async_context(aiosqlite.connect(path))
            await adb.execute(f"PRAGMA busy_timeout={busy}")
            fetch = thread_fetch(adb)
        else:
            sdb = stack.enter_context(contextlib.closing(sqlite3.connect(path)))
            sdb.execute(f"PRAGMA busy_timeout={busy}")
            fetch = inloop_fetch(sdb)
        billing = BillingClient(
            OneStatementBackend(core, fetch),
            core.phones,
            lookup_timeout=settings.agi.lookup_timeout,
            stale=StaleCache(settings.billing.stale_ttl),
            credit_days=settings.billing.credit_days,
            credit_amount=settings.billing.credit_amount,
        )
        service = Service(dataclasses.replace(core, billing=billing))
        await service.start()
        try:
            await stop.wait()
        finally:
            await service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--mode",
        choices=("thread", "inloop"),
        default="thread",
        help="thread: aiosqlite, one round trip; inloop: sqlite3 in the loop thread",
    )
    args = parser.parse_args()
    asyncio.run(serve(args.config, args.port, args.mode))


if __name__ == "__main__":
    main()
