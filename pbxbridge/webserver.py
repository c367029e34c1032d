"""Builds the HTTP server from the running service's parts: what web/ gets and from where.

The Service calls `build_web(self)` once its parts exist; this is the one place that
knows which part answers which health check, which counters become metrics and what the
API's handlers are given. A new API resource adds its part to `ApiDeps` here; a face
(askozia_api, the admin pages) adds its `Mount` to `faces`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callfile_spooler.audio import CampaignAudio
from missed_calls.store import MissedCallStore
from pbxbridge.health import (
    AgiCheck,
    AmiCheck,
    BillingCheck,
    DatabaseCheck,
    SpoolCheck,
    TelegramCheck,
)
from pbxbridge.metrics import AgiCollector, AmiCollector, BillingCollector
from sms.history import SmsHistory
from web.api.deps import ApiDeps
from web.app import WebParts, build_app
from web.health import HealthChecks
from web.metrics import Metrics
from web.server import WebServer
from web.tokens import TokenStore

if TYPE_CHECKING:
    from pbxbridge.app import Service


def build_web(service: Service) -> WebServer:
    parts = web_parts(service)
    return WebServer(parts.settings, build_app(parts))


def web_parts(service: Service) -> WebParts:
    """What the application is built from (tests replace a field or two)."""
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

    metrics = Metrics()
    metrics.add(AgiCollector(service.agi))
    metrics.add(BillingCollector(core.billing))
    if service.ami is not None:
        metrics.add(AmiCollector(service.ami))

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
        max_upload_bytes=settings.max_upload_bytes,
    )
    return WebParts(settings, api, health, metrics)
