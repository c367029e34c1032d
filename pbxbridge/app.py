"""The one place that builds and wires everything. Read top to bottom to see the system."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agi.lockout import LockoutGuard, OnLock
from agi.routes import ROUTES, RouteDeps, build_handlers
from agi.server import FastAgiServer
from ami_listener import AmiClient, AmiHealth
from billing_client.audit import AuditJournal
from billing_client.backend import BillingBackend
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from billing_client.local.admin import LocalAdmin
from billing_client.local.call_lookups import CallLookups, SqliteReader
from billing_client.local.paycards import PaycardAdmin
from billing_client.pause import FlagsChanged
from billing_client.stale_cache import StaleCache
from callfile_spooler.audio import CampaignAudio
from callfile_spooler.callbacks import CallbackService, callmeback_of
from callfile_spooler.calls import CallDialer
from callfile_spooler.spooler import Spooler
from lines import Lines
from missed_calls.events import EVENTS as MISSED_CALL_EVENTS
from missed_calls.tracker import MissedCallTracker
from notify import Notice
from pbxbridge import line_hooks, recalls, staff
from pbxbridge.alerts import Alert, Alerts
from pbxbridge.settings import Settings
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser
from sms.inbox import Inbox
from sms.outbox import Outbox
from sms.transports import Ready, build_transport
from sms.types import InboundHandler
from sms.wiring import subscribe
from storage import create_engine, session_factory
from storage.engine import sqlite_path

if TYPE_CHECKING:
    from notify.service import Telegram
    from web.server import WebServer

log = logging.getLogger("pbxbridge")


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
    alerts: Alerts
    """Every alert of the process: the log, and Telegram once the Service attaches it."""
    lines: Lines
    """Voice lines (BILLmanager); they reload Asterisk on a connection of their own until
    the Service hands them its AMI link."""


def build_backend(
    *,
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    audit: AuditJournal,
    phones: PhoneNormaliser,
    alert: Alert,
    on_flags: FlagsChanged | None = None,
) -> BillingBackend:
    if settings.billing.backend == "ubilling":
        # Imported here: aiohttp costs a process-per-call AGI script ~0.1 s it rarely needs.
        from billing_client.ubilling import UbillingBackend

        return UbillingBackend(settings.billing, audit, clock, phones, alert)
    path = sqlite_path(settings.database.url)
    reader = SqliteReader(path, settings.database.busy_timeout_ms) if path is not None else None
    calls = CallLookups(engine, clock, reader)
    return LocalBackend(
        sessions,
        clock,
        audit,
        credit_amount=settings.billing.credit_amount,
        calls=calls,
        on_flags=on_flags,
    )


@asynccontextmanager
async def open_core(
    settings: Settings, *, alerts: Alerts | None = None, clock: Clock | None = None
) -> AsyncIterator[Core]:
    clock = clock or Clock(settings.timezone)
    # First: the billing backend takes it now, the Service attaches Telegram to it later.
    alerts = alerts or Alerts()
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    phones = PhoneNormaliser(settings.billing.default_region)
    audit = AuditJournal(sessions, settings.billing.backend, clock)
    lines = Lines(
        sessions, clock, settings.lines, line_hooks.one_off_reload(settings.ami, settings.lines)
    )
    # A subscriber frozen or disabled in the embedded billing holds their voice lines.
    on_flags = line_hooks.follower(lines, alerts)
    backend = build_backend(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        audit=audit,
        phones=phones,
        alert=alerts,
        on_flags=on_flags,
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
        local = LocalAdmin(sessions, clock, audit, phones, on_flags=on_flags)
        paycards = PaycardAdmin(sessions, clock)
    try:
        yield Core(
            settings,
            clock,
            engine,
            sessions,
            phones,
            audit,
            billing,
            local,
            paycards,
            alerts,
            lines=lines,
        )
    finally:
        await billing.aclose()
        await engine.dispose()


def build_lockout(core: Core, on_lock: OnLock | None = None) -> LockoutGuard:
    agi = core.settings.agi
    return LockoutGuard(
        core.sessions,
        core.clock,
        failures=agi.lockout_failures,
        window=agi.lockout_window,
        on_lock=on_lock,
        audit=core.audit,
    )


def build_route_deps(
    core: Core, inbound_sms: InboundHandler | None = None, on_lock: OnLock | None = None
) -> RouteDeps:
    return RouteDeps(
        billing=core.billing,
        lockout=build_lockout(core, on_lock),
        settings=core.settings.agi,
        inbound_sms=inbound_sms,
        alert=core.alerts,
    )


class Service:
    """The long-running parts, started in order and stopped in reverse.

    The AMI link is optional at run time: while Asterisk cannot be reached the client
    retries with backoff, and the FastAGI server, the outbox queue and the bot go on.
    """

    def __init__(self, core: Core) -> None:
        s = core.settings
        self.core = core
        self.ami = AmiClient(s.ami) if s.ami.enabled else None
        self.missed = (
            MissedCallTracker(
                core.sessions,
                core.clock,
                core.billing,
                s.missed_calls,
                on_missed=staff.on_missed(self._notify, core.clock),
                alert=core.alerts,
            )
            if s.missed_calls.enabled
            else None
        )
        transport = None
        ready: Ready | None = None
        if self.ami is not None:
            ami = self.ami

            def link_up() -> bool:
                return ami.health is AmiHealth.CONNECTED

            ready = link_up
            transport = build_transport(s.sms, ami, ready=ready)
        self.outbox = Outbox(
            core.sessions,
            core.clock,
            transport,
            s.sms,
            on_final=staff.on_sms_final(self._notify),
            phones=core.phones,
            ready=ready,
            alert=core.alerts,
        )
        self.inbox = Inbox(
            core.sessions,
            core.clock,
            core.billing,
            s.sms,
            outbox=self.outbox,
            on_stored=staff.on_sms_stored(self._notify, core.clock),
        )
        self.spooler = Spooler(
            core.sessions,
            core.clock,
            core.phones,
            s.spool,
            alert=core.alerts,
            dialer=CallDialer(s.spool, core.phones, s.callback),
            on_answered=recalls.on_answered(self.missed),
        )
        self.callbacks = CallbackService(
            core.sessions,
            core.clock,
            core.phones,
            s.callback,
            billing=core.billing,
            callmeback=callmeback_of(core.billing.backend),
            wake=self.spooler.wake,
        )
        self.routes = build_route_deps(
            core, inbound_sms=self.inbox.receive, on_lock=staff.on_lock(self._notify)
        )
        self.telegram: Telegram | None = None
        if s.telegram.active:
            # aiogram costs seconds to import: only when Telegram is on
            from notify.service import Telegram

            self.telegram = Telegram(
                s.telegram,
                missed=staff.missed_today(self.missed, core.clock),
                send_sms=staff.send_sms(self.outbox),
                whois=staff.whois(core.billing),
                request_callback=(
                    staff.request_callback(self.callbacks) if s.callback.enabled else None
                ),
                unlock=staff.unlock(self.routes.lockout, core.phones),
            )
        self._alert_staff: Alert | None = None
        if self.telegram is not None:
            self._alert_staff = staff.on_alert(self._notify)
            core.alerts.attach(self._alert_staff)
        if self.ami is not None:
            subscribe(self.ami, self.inbox, self.outbox)
            if self.missed is not None:
                for name in MISSED_CALL_EVENTS:
                    self.ami.on_event(name, self.missed.handle)
            self.ami.on_health(staff.on_ami_health(self._notify))
        if self.ami is not None:
            for name in Spooler.EVENTS:
                self.ami.on_event(name, self.spooler.handle)
            # Line changes made here reload over the link; one AMI missed is sent on connect.
            core.lines.use_reloader(line_hooks.link_reload(self.ami, s.lines))
            self.ami.on_health(line_hooks.on_ami_health(core.lines, core.alerts))
        self.agi = FastAgiServer(s.agi, build_handlers(self.routes))
        self.web: WebServer | None = None
        if s.http.enabled:
            from pbxbridge.webserver import build_web  # aiohttp's server side: only when on

            self.web = build_web(self)

    async def _notify(self, notice: Notice) -> None:
        if self.telegram is not None:
            await self.telegram.notify(notice)

    async def start(self) -> None:
        if self.telegram is not None:
            await self.telegram.start()
        await self.outbox.start()
        await self.inbox.start()
        if self.ami is not None:
            await self.ami.start()
        await self._lines_follow_subscribers()
        messages = CampaignAudio(self.core.sessions, self.core.clock, self.core.settings.spool)
        try:
            # Before the first tick: a message left by a deleted campaign must not be played
            # to the callees of a new one that got its id.
            await messages.prune()
        except OSError as exc:
            log.warning("campaign messages of deleted campaigns not removed: %s", exc)
        # Asterisk's outgoing/ may come later (boot order, Asterisk installed after us):
        # then the spooler warns once and starts by itself when it appears.
        spooling = await self.spooler.start_when_ready()
        await self.agi.start()
        if self.web is not None:
            await self.web.start()
        s = self.core.settings
        log.info(
            "pbxbridge started: FastAGI on %s:%d (routes %s), HTTP %s, AMI %s, Telegram %s, "
            "spool %s, billing=%s, database=%s",
            s.agi.host,
            self.agi.port,
            ", ".join(ROUTES),
            ", ".join(self.web.urls) if self.web is not None else "off",
            f"{s.ami.host}:{s.ami.port}" if self.ami is not None else "off",
            "on" if s.telegram.active else "off",
            s.spool.dir if spooling else "waiting for Asterisk",
            s.billing.backend,
            s.database.safe_url(),
        )

    async def _lines_follow_subscribers(self) -> None:
        """Catch voice lines up with their subscribers (a freeze the hook missed: an import,
        a change made while the lines' file could not be written)."""
        if self.core.local is None:
            return
        try:
            await self.core.lines.sync(line_hooks.blocked_of(self.core.local))
        except Exception as exc:
            log.warning("voice lines not caught up with their subscribers: %s", exc)

    async def stop(self) -> None:
        """Stop taking calls, let calls in flight finish, wait for money moves to land,
        then close the AMI link and let what it delivered be stored."""
        if self.web is not None:
            await self.web.stop()
        await self.agi.stop()
        await self.routes.drain()
        await self.spooler.stop()
        if self.ami is not None:
            await self.ami.stop()
        if self.missed is not None:
            await self.missed.aclose()
        await self.inbox.stop()
        await self.outbox.stop()
        if self.telegram is not None:
            await self.telegram.stop()
        if self._alert_staff is not None:
            self.core.alerts.detach(self._alert_staff)
        log.info("pbxbridge stopped")
