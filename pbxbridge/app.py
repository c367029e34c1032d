"""The one place that builds and wires everything. Read top to bottom to see the system."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agi.lockout import LockoutGuard
from agi.routes import ROUTES, RouteDeps, build_handlers
from agi.server import FastAgiServer
from billing_client.audit import AuditJournal
from billing_client.backend import BillingBackend
from billing_client.client import BillingClient
from billing_client.clock import Clock
from billing_client.local import LocalBackend
from billing_client.local.admin import LocalAdmin
from billing_client.local.call_lookups import CallLookups, SqliteReader
from billing_client.local.paycards import PaycardAdmin
from billing_client.phones import PhoneNormaliser
from billing_client.stale_cache import StaleCache
from pbxbridge.settings import Settings
from storage import create_engine, session_factory
from storage.engine import sqlite_path

log = logging.getLogger("pbxbridge")

Alert = Callable[[str], Awaitable[None]]


async def log_alert(message: str) -> None:
    """Where alerts go until a notifier is wired: the log, at ERROR."""
    log.error("ALERT: %s", message)


@dataclass
class Core:
    """What every command and service needs: settings, database, clock and the billing client."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    phones: PhoneNormaliser
    audit: AuditJournal
    billing: BillingClient
    local: LocalAdmin | None
    paycards: PaycardAdmin | None


def build_backend(
    *,
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    audit: AuditJournal,
    phones: PhoneNormaliser,
    alert: Alert,
) -> BillingBackend:
    if settings.billing.backend == "ubilling":
        # Imported here: aiohttp costs a process-per-call AGI script ~0.1 s it rarely needs.
        from billing_client.ubilling import UbillingBackend

        return UbillingBackend(settings.billing, audit, clock, phones, alert)
    path = sqlite_path(settings.database.url)
    reader = SqliteReader(path, settings.database.busy_timeout_ms) if path is not None else None
    calls = CallLookups(engine, clock, reader)
    return LocalBackend(
        sessions, clock, audit, credit_amount=settings.billing.credit_amount, calls=calls
    )


@asynccontextmanager
async def open_core(
    settings: Settings, *, alert: Alert = log_alert, clock: Clock | None = None
) -> AsyncIterator[Core]:
    clock = clock or Clock(settings.timezone)
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    phones = PhoneNormaliser(settings.billing.default_region)
    audit = AuditJournal(sessions, settings.billing.backend, clock)
    backend = build_backend(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        audit=audit,
        phones=phones,
        alert=alert,
    )
    billing = BillingClient(
        backend,
        phones,
        lookup_timeout=settings.agi.lookup_timeout,
        stale=StaleCache(settings.billing.stale_ttl),
        credit_days=settings.billing.credit_days,
        credit_amount=settings.billing.credit_amount,
    )
    local = paycards = None
    if settings.billing.backend == "local":
        local = LocalAdmin(sessions, clock, audit, phones)
        paycards = PaycardAdmin(sessions, clock)
    try:
        yield Core(settings, clock, engine, sessions, phones, audit, billing, local, paycards)
    finally:
        await billing.aclose()
        await engine.dispose()


def build_route_deps(core: Core) -> RouteDeps:
    agi = core.settings.agi
    lockout = LockoutGuard(
        core.sessions, core.clock, failures=agi.lockout_failures, window=agi.lockout_window
    )
    return RouteDeps(billing=core.billing, lockout=lockout, settings=agi)


class Service:
    """The long-running parts, started in order and stopped in reverse."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.routes = build_route_deps(core)
        self.agi = FastAgiServer(core.settings.agi, build_handlers(self.routes))

    async def start(self) -> None:
        await self.agi.start()
        log.info(
            "pbxbridge started: FastAGI on %s:%d (routes %s), billing=%s, database=%s",
            self.core.settings.agi.host,
            self.agi.port,
            ", ".join(ROUTES),
            self.core.settings.billing.backend,
            self.core.settings.database.safe_url(),
        )

    async def stop(self) -> None:
        """Stop taking calls, let calls in flight finish, wait for money moves to land."""
        await self.agi.stop()
        await self.routes.drain()
        log.info("pbxbridge stopped")
