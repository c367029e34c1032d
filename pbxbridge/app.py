"""The one place that builds and wires everything. Read top to bottom to see the system.

`open_core` opens what every command needs (settings, database, clock, billing client).
`Service` builds the running parts on it; `Service.parts()` is the list they start in,
top to bottom, and stop in reverse, each stop bounded (`primitives.lifecycle`). Adding a
running part is one entry there (and, if it hears AMI, one `add_consumer`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agi.lockout import LockoutGuard, OnLock
from agi.routes import ROUTES, RouteDeps, build_handlers
from agi.routes.deps import OnLookup
from agi.server import FastAgiServer
from ami_listener import AmiClient, AmiHealth
from ami_listener.client import LOGOFF_TIMEOUT as AMI_LOGOFF_TIMEOUT
from billing_client.audit import AuditJournal
from billing_client.backend import BillingBackend
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from billing_client.local.admin import LocalAdmin
from billing_client.local.call_lookups import CallLookups
from billing_client.local.lookup_reader import SqliteReader
from billing_client.local.paycards import PaycardAdmin
from billing_client.pause import FlagsChanged
from billing_client.stale_cache import StaleCache
from callfile_spooler.audio import CampaignAudio
from callfile_spooler.callbacks import CallbackService, callmeback_of
from callfile_spooler.calls import CallDialer
from callfile_spooler.campaigns import CampaignManager
from callfile_spooler.spooler import STOP_TIMEOUT as SPOOLER_STOP_TIMEOUT
from callfile_spooler.spooler import OnProgress, Spooler
from jobs.scheduler import STOP_WITHIN as SCHEDULER_STOP
from lines import Lines
from missed_calls.tracker import MissedCallTracker
from notify import Notice
from pbxbridge import call_events, feed_events, line_hooks, recalls, staff, webhook_events
from pbxbridge.alerts import Alert, Alerts
from pbxbridge.settings import Settings
from pbxbridge.staff import Notify
from primitives.clock import Clock
from primitives.lifecycle import Hooks, Lifecycle, Part
from primitives.phones import PhoneNormaliser
from sms.inbox import LOOKUP_TIMEOUT, Inbox
from sms.outbox import Outbox
from sms.sms_in import ROUTES as SMS_ROUTES
from sms.sms_in import build_handlers as build_sms_handlers
from sms.transports import Ready, SmsTransport, build_transport
from storage import create_engine, session_factory
from storage.engine import sqlite_path
from telepony.feed import TeleponyFeed
from web.feed import LiveFeed
from web.screen_pop import ScreenPop
from webhooks.events import Emit

if TYPE_CHECKING:
    from notify.service import Telegram
    from web.server import WebServer
    from webhooks.service import Webhooks

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
    core: Core, on_lock: OnLock | None = None, on_lookup: OnLookup | None = None
) -> RouteDeps:
    return RouteDeps(
        billing=core.billing,
        lockout=build_lockout(core, on_lock),
        settings=core.settings.agi,
        on_lookup=on_lookup,
    )


AGI_ROUTES: tuple[str, ...] = (*ROUTES, *SMS_ROUTES)
"""Every FastAGI route the service serves: agi's own, then the ones other rooms bring."""

STOP_MARGIN = 5.0
"""Seconds a part gets past its own shutdown bound before the runner cuts it off."""
WEB_STOP_TIMEOUT = 5.0
"""The HTTP server's own bound for requests in flight (web.server.STOP_TIMEOUT)."""
TELEGRAM_STOP = 15.0
"""The bot's handlers (5 s) and its last confirmation (2 s), then the notifier's flush (5 s)."""


class Service:
    """The long-running parts, built on a Core: `parts()` is the order they start in, and
    they stop in reverse.

    The AMI link is optional at run time: while Asterisk cannot be reached the client
    retries with backoff, and the FastAGI server, the outbox queue and the bot go on.
    """

    def __init__(self, core: Core) -> None:
        s = core.settings
        self.core = core
        # First: every part below may tell the staff's open pages what happens.
        self.feed = LiveFeed(core.clock.now)
        self.screen_pop = build_screen_pop(core, self.feed)
        self.progress = feed_events.CampaignProgress(
            self.feed, CampaignManager(core.sessions, core.clock, core.phones)
        )
        self.ami = AmiClient(s.ami) if s.ami.enabled else None
        self.webhooks = build_webhooks(core)
        emit = self.webhooks.emit if self.webhooks.hooks else None
        self.missed = build_missed_calls(core, self._notify, emit)
        self.outbox = build_outbox(core, self.ami, self._notify)
        self.inbox = build_inbox(core, self.outbox, self._notify, emit)
        self.spooler = build_spooler(core, self.missed, self.progress)
        self.telepony = build_telepony(core)
        self.callbacks = build_callbacks(core, self.spooler)
        if emit is not None:
            self.spooler.on_finished = webhook_events.on_run_finished(
                emit, self.spooler.campaigns, self.callbacks
            )
        self.routes = build_route_deps(
            core, on_lock=staff.on_lock(self._notify), on_lookup=self.screen_pop.on_lookup
        )
        self.telegram = build_telegram(core, self.missed, self.outbox, self.callbacks, self.routes)
        sms_routes = build_sms_handlers(self.inbox.receive, core.alerts)
        self.agi = FastAgiServer(s.agi, build_handlers(self.routes, extra=sms_routes))
        if self.ami is not None:
            # In this order: a Hangup reaches the missed calls before the spooler.
            consumers = (self.inbox, self.outbox, self.missed, self.spooler, self.screen_pop)
            for consumer in (*consumers, self.telepony):
                if consumer is not None:
                    self.ami.add_consumer(consumer)
            self.ami.on_health(staff.on_ami_health(self._notify))
            # Line changes made here reload over the link; one AMI missed is sent on connect.
            core.lines.use_reloader(line_hooks.link_reload(self.ami, s.lines))
            self.ami.on_health(line_hooks.on_ami_health(core.lines, core.alerts))
        # After the outbox: reminders queue through it. Imported here: the job bodies cost
        # a process-per-call AGI script (which imports this module) ~0.1 s it never needs.
        from pbxbridge.job_table import build_scheduler

        self.scheduler = build_scheduler(core, self.outbox)
        self.web = build_web_server(self)
        self._lifecycle = Lifecycle(self.parts(), log)

    def parts(self) -> list[Part]:
        """Everything that runs, in the order it starts (None: that part is off).

        Stopping goes up the list: stop taking calls, let calls in flight finish, let money
        moves land, finish the spooler's tick, close the AMI link and let what it delivered
        be stored (missed calls, SMS), then the SMS workers and Telegram's last messages.
        """
        s = self.core.settings
        spooler = self.spooler
        return [
            Part("staff alerts", self._staff_alerts()),
            # Early: stops late, after every part that has news for it (rows left pending
            # are delivered at the next start).
            Part(
                "webhooks",
                self.webhooks if self.webhooks.hooks else None,
                stop_within=self.webhooks.stop_within + STOP_MARGIN,
            ),
            Part("live feed", self._live_feed()),
            Part("telegram", self.telegram, stop_within=TELEGRAM_STOP + STOP_MARGIN),
            Part("sms outbox", self.outbox, stop_within=s.sms.action_timeout + 1 + STOP_MARGIN),
            Part("sms inbox", self.inbox, stop_within=LOOKUP_TIMEOUT + STOP_MARGIN),
            Part("missed calls", self.missed, stop_within=s.agi.lookup_timeout + STOP_MARGIN),
            Part("telepony feed", self.telepony, stop_within=self._telepony_stop()),
            Part(
                "ami",
                self.ami,
                stop_within=AMI_LOGOFF_TIMEOUT + 2 * s.ami.action_timeout + STOP_MARGIN,
            ),
            Part("voice lines", Hooks(start=self._lines_follow_subscribers)),
            Part("campaign messages", Hooks(start=self._prune_campaign_messages)),
            Part(
                "call-file spooler",
                Hooks(start=spooler.start_when_ready, stop=spooler.stop),
                stop_within=2 * SPOOLER_STOP_TIMEOUT + STOP_MARGIN,
            ),
            Part("scheduler", self.scheduler, stop_within=SCHEDULER_STOP + STOP_MARGIN),
            Part(
                "money moves",
                Hooks(stop=self.routes.drain),
                stop_within=s.billing.money_timeout + STOP_MARGIN,
            ),
            Part("fastagi", self.agi, stop_within=s.agi.drain_timeout + STOP_MARGIN),
            Part("http", self.web, stop_within=WEB_STOP_TIMEOUT + STOP_MARGIN),
        ]

    async def start(self) -> None:
        await self._lifecycle.start()
        s = self.core.settings
        log.info(
            "pbxbridge started: FastAGI on %s:%d (routes %s), HTTP %s, AMI %s, Telegram %s, "
            "spool %s, billing=%s, database=%s",
            s.agi.host,
            self.agi.port,
            ", ".join(AGI_ROUTES),
            ", ".join(self.web.urls) if self.web is not None else "off",
            f"{s.ami.host}:{s.ami.port}" if self.ami is not None else "off",
            "on" if s.telegram.active else "off",
            s.spool.dir if self.spooler.started.is_set() else "waiting for Asterisk",
            s.billing.backend,
            s.database.safe_url(),
        )

    def _telepony_stop(self) -> float:
        feed = self.telepony
        return feed.stop_within + STOP_MARGIN if feed is not None else STOP_MARGIN

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
        await self._lifecycle.stop()
        log.info("pbxbridge stopped")

    async def _notify(self, notice: Notice) -> None:
        feed_events.notice(self.feed, notice)
        if self.telegram is not None:
            await self.telegram.notify(notice)

    def _staff_alerts(self) -> AbstractAsyncContextManager[None] | None:
        """Alerts go to Telegram too while it runs (the log always has them)."""
        if self.telegram is None:
            return None
        return self.core.alerts.attached(staff.on_alert(self._notify))

    @asynccontextmanager
    async def _live_feed(self) -> AsyncIterator[None]:
        """Alerts reach the open pages while the service runs; at the end the screen pop's
        and the campaign progress's tasks are let go."""
        try:
            async with self.core.alerts.attached(feed_events.alert(self.feed)):
                yield
        finally:
            await self.screen_pop.aclose()
            await self.progress.aclose()

    async def _prune_campaign_messages(self) -> None:
        """Before the spooler's first tick: a message left by a deleted campaign must not be
        played to the callees of a new one that got its id."""
        core = self.core
        try:
            await CampaignAudio(core.sessions, core.clock, core.settings.spool).prune()
        except OSError as exc:
            log.warning("campaign messages of deleted campaigns not removed: %s", exc)


def build_webhooks(core: Core) -> Webhooks:
    """The webhooks of `[[webhooks]]` (none: emitting does nothing, no part runs)."""
    # Imported here: aiohttp's client costs a process-per-call AGI script time it never needs.
    from webhooks.service import Webhooks

    s = core.settings
    return Webhooks(core.sessions, core.clock, s.webhooks, s.webhook_delivery, alert=core.alerts)


def build_missed_calls(
    core: Core, notify: Notify, emit: Emit | None = None
) -> MissedCallTracker | None:
    s = core.settings
    if not s.missed_calls.enabled:
        return None
    on_missed = webhook_events.both(
        staff.on_missed(notify, core.clock),
        webhook_events.on_missed(emit) if emit is not None else None,
    )
    return MissedCallTracker(
        core.sessions,
        core.clock,
        core.billing,
        s.missed_calls,
        on_missed=on_missed,
        alert=core.alerts,
        on_answered=webhook_events.both(
            call_events.on_answered(core.clock),
            webhook_events.on_answered(emit) if emit is not None else None,
        ),
    )


def build_telepony(core: Core) -> TeleponyFeed | None:
    """The feed of Cdr legs to Ubilling's TelePony table, while [telepony] url is set (it
    hears them over AMI, so it runs only with AMI on)."""
    s = core.settings
    if not s.telepony.enabled:
        return None
    if not s.ami.enabled:
        log.warning("telepony.url is set but [ami] is off: no Cdr events, nothing is fed")
        return None
    return TeleponyFeed(core.sessions, core.clock, s.telepony, alert=core.alerts)


def build_outbox(core: Core, ami: AmiClient | None, notify: Notify) -> Outbox:
    """Sends through the AMI link, and claims nothing while it is down; without AMI it
    only queues."""
    transport: SmsTransport | None = None
    ready: Ready | None = None
    if ami is not None:
        link = ami

        def link_up() -> bool:
            return link.health is AmiHealth.CONNECTED

        ready = link_up
        transport = build_transport(core.settings.sms, link, ready=ready)
    return Outbox(
        core.sessions,
        core.clock,
        transport,
        core.settings.sms,
        on_final=staff.on_sms_final(notify),
        phones=core.phones,
        ready=ready,
        alert=core.alerts,
    )


def build_inbox(core: Core, outbox: Outbox, notify: Notify, emit: Emit | None = None) -> Inbox:
    return Inbox(
        core.sessions,
        core.clock,
        core.billing,
        core.settings.sms,
        outbox=outbox,
        on_stored=webhook_events.both(
            staff.on_sms_stored(notify, core.clock),
            webhook_events.on_sms_stored(emit) if emit is not None else None,
        ),
    )


def build_screen_pop(core: Core, feed: LiveFeed) -> ScreenPop:
    """Incoming calls (AMI) and their callers' cards (the IVR's lookup) on the live feed;
    inbound as the missed calls count it (not pbxbridge's own outgoing contexts)."""
    missed = core.settings.missed_calls
    return ScreenPop(
        feed.publish,
        by_number=core.billing.by_number,
        payments=core.audit.records,
        phones=core.phones,
        outbound_contexts=missed.outbound_contexts,
        min_digits=missed.min_number_digits,
    )


def build_spooler(
    core: Core, missed: MissedCallTracker | None, on_progress: OnProgress | None = None
) -> Spooler:
    s = core.settings
    return Spooler(
        core.sessions,
        core.clock,
        core.phones,
        s.spool,
        alert=core.alerts,
        dialer=CallDialer(s.spool, core.phones, s.callback),
        on_answered=recalls.on_answered(missed),
        on_progress=on_progress,
    )


def build_callbacks(core: Core, spooler: Spooler) -> CallbackService:
    return CallbackService(
        core.sessions,
        core.clock,
        core.phones,
        core.settings.callback,
        billing=core.billing,
        callmeback=callmeback_of(core.billing.backend),
        wake=spooler.wake,
    )


def build_web_server(service: Service) -> WebServer | None:
    """The HTTP application (API, callback form, faces, health, metrics), when it is on."""
    if not service.core.settings.http.enabled:
        return None
    from pbxbridge.webserver import build_web  # aiohttp's server side: only when on

    return build_web(service)


def build_telegram(
    core: Core,
    missed: MissedCallTracker | None,
    outbox: Outbox,
    callbacks: CallbackService,
    routes: RouteDeps,
) -> Telegram | None:
    """The staff notifier and bot, when Telegram is on; what the bot can do for staff."""
    s = core.settings
    if not s.telegram.active:
        return None
    # aiogram costs seconds to import: only when Telegram is on
    from notify.service import Telegram

    return Telegram(
        s.telegram,
        missed=staff.missed_today(missed, core.clock),
        send_sms=staff.send_sms(outbox),
        whois=staff.whois(core.billing),
        request_callback=staff.request_callback(callbacks) if s.callback.enabled else None,
        unlock=staff.unlock(routes.lockout, core.phones),
    )
