"""Builds the HTTP server from the running service's parts: what web/ gets and from where.

The Service calls `build_web(self)` once its parts exist; this is the one place that
knows which part answers which health check, which counters become metrics and what the
API's handlers are given. A new API resource adds its part to `ApiDeps` here; a face
(askozia_api, the admin pages) adds its `Mount` to `faces`: a face that is off in the
settings is not mounted at all (its paths answer 404).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher

from askozia_api.askozia import AskoziaDeps, askozia_face
from askozia_api.auth_log import AuthFailures
from askozia_api.call_log_cdr import CallLogCdrSource
from askozia_api.deps import RemoteApiDeps
from askozia_api.remoteapi import remoteapi_face
from askozia_api.status import StatusProbe
from call_log.store import CallLogStore
from callfile_spooler.audio import CampaignAudio
from missed_calls.store import MissedCallStore
from pbxbridge.health import (
    AgiCheck,
    AmiCheck,
    BillingCheck,
    DatabaseCheck,
    SchedulerCheck,
    SpoolCheck,
    TelegramCheck,
    TeleponyCheck,
    WebhooksCheck,
)
from pbxbridge.metrics import (
    AgiCollector,
    AmiCollector,
    BillingCollector,
    CallbackFormCollector,
    DatabaseFigures,
    FeedCollector,
    JobsCollector,
    TeleponyCollector,
    WebhooksCollector,
)
from sms.history import SmsHistory
from storage.engine import sqlite_path
from web.admin.app import admin_face
from web.admin.deps import AdminDeps
from web.api.deps import ApiDeps
from web.app import Mount, WebParts, build_app
from web.callback_form import CallbackForm
from web.health import HealthChecks
from web.keys import Keys
from web.metrics import Metrics
from web.rate_limits import RateLimits
from web.server import WebServer
from web.staff import StaffStore
from web.tokens import TokenStore

if TYPE_CHECKING:
    from pbxbridge.app import Service


def build_web(service: Service) -> WebServer:
    parts = web_parts(service)
    return WebServer(parts.settings, build_app(parts))


def web_parts(service: Service, *, password_hasher: PasswordHasher | None = None) -> WebParts:
    """What the application is built from (tests replace a field or two; `password_hasher`:
    the staff passwords' argon2 parameters, argon2-cffi's defaults when None)."""
    core = service.core
    settings = core.settings.http
    database = DatabaseCheck(core.engine)
    health = HealthChecks()
    # Critical: down here and the service cannot answer calls.
    health.add(database, critical=True)
    health.add(BillingCheck(core.billing, database), critical=True)
    health.add(AgiCheck(service.agi), critical=True)
    # The rest: down here and the service works with less.
    health.add(AmiCheck(service.ami), critical=False)
    health.add(SpoolCheck(service.spooler), critical=False)
    notifier = service.telegram.notifier if service.telegram is not None else None
    health.add(TelegramCheck(notifier.queued if notifier is not None else None), critical=False)
    health.add(SchedulerCheck(service.scheduler), critical=False)
    health.add(TeleponyCheck(service.telepony), critical=False)
    health.add(WebhooksCheck(service.webhooks), critical=False)

    metrics = Metrics()
    metrics.add(AgiCollector(service.agi))
    metrics.add(BillingCollector(core.billing))
    metrics.add(FeedCollector(service.feed))
    if service.ami is not None:
        metrics.add(AmiCollector(service.ami))
    if service.scheduler is not None:
        metrics.add(JobsCollector(service.scheduler.runner))
    if service.telepony is not None:
        metrics.add(TeleponyCollector(service.telepony))
    metrics.add(WebhooksCollector(service.webhooks))
    figures = DatabaseFigures(core.sessions)
    metrics.add(figures)
    metrics.add_refresh(figures.refresh)

    api = ApiDeps(
        clock=core.clock,
        tokens=TokenStore(core.sessions, core.clock, core.audit),
        billing=core.billing,
        callbacks=service.callbacks,
        campaigns=service.spooler.campaigns,
        audio=CampaignAudio(core.sessions, core.clock, core.settings.spool),
        wake_spooler=service.spooler.wake,
        outbox=service.outbox,
        inbox=service.inbox,
        sms=SmsHistory(core.sessions),
        missed=MissedCallStore(core.sessions, core.clock),
        calls=CallLogStore(core.sessions, core.clock),
        max_upload_bytes=settings.max_upload_bytes,
    )
    form = None
    if core.settings.callback.enabled:
        form = CallbackForm(service.callbacks, RateLimits(core.sessions, core.clock), settings)
        metrics.add(CallbackFormCollector(form.stats))
    admin = AdminDeps(
        settings=settings,
        clock=core.clock,
        sessions=core.sessions,
        staff=StaffStore(core.sessions, core.clock, core.audit, password_hasher),
        tokens=api.tokens,
        keys=Keys(core.sessions, core.clock),
        limits=RateLimits(core.sessions, core.clock),
        audit=core.audit,
        api=api,
        health=health,
        metrics=metrics,
        local=core.local,
        max_payment=core.settings.billing.max_payment,
    )
    return WebParts(
        settings,
        api,
        health,
        metrics,
        callback=form.mount if form else None,
        faces=[*faces(service), admin_face(admin)],
        feed=service.feed,
    )


def faces(service: Service) -> list[Mount]:
    """The Ubilling remoteapi face (on while http.remoteapi_key is set) and the Askozia PBX
    face (on while askozia.password is set), with what they answer from."""
    core = service.core
    s = core.settings
    failures = AuthFailures(core.clock)
    mounts: list[Mount] = []
    key = s.http.remoteapi_key.get_secret_value()
    if key:
        remote = RemoteApiDeps(
            key=key,
            billing=core.billing,
            clock=core.clock,
            failures=failures,
            money=s.http.remoteapi_money,
            credit_amount=s.billing.credit_amount,
            guard=service.routes.lockout,
            run_move=service.routes.money_move,
            callbacks=service.callbacks if s.callback.enabled else None,
        )
        mounts.append(remoteapi_face(remote))
    if s.askozia.enabled:
        calls = CallLogCdrSource(CallLogStore(core.sessions, core.clock))
        database = sqlite_path(s.database.url)
        status = StatusProbe(
            core.clock,
            ami=service.ami,
            disk=database.parent if database is not None else Path(s.spool.dir),
            calls=calls,
            timeout=s.askozia.status_timeout,
        )
        mounts.append(askozia_face(AskoziaDeps(s.askozia, core.clock, calls, status, failures)))
    return mounts
