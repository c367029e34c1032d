"""What the admin pages are given: one dataclass on the admin sub-application. The root
fills it (pbxbridge/webserver.py); the pages reach the same services as the REST API
through `api` (campaigns, audio, callbacks, SMS …), never a second implementation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from primitives.clock import Clock
from web.api.deps import ApiDeps
from web.health import HealthChecks
from web.keys import Keys
from web.metrics import Metrics
from web.rate_limits import RateLimits
from web.settings import HttpSettings
from web.staff import StaffStore
from web.tokens import TokenStore


@dataclass(frozen=True)
class AdminDeps:
    settings: HttpSettings
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]
    staff: StaffStore
    tokens: TokenStore
    keys: Keys
    limits: RateLimits
    audit: AuditJournal
    api: ApiDeps
    """The services the REST API uses (campaigns, audio, callbacks, SMS, missed calls)."""
    health: HealthChecks
    """/healthz's checks: the status page shows the same facts."""
    metrics: Metrics
    """/metrics' registry: the status page shows its counters (FastAGI, billing …)."""
    local: LocalAdmin | None
    """The embedded billing's admin (edit, freeze, payments), None with another backend."""
    max_payment: Decimal
    """billing.max_payment: a larger payment needs its confirmation, as the CLI's --force."""


ADMIN_DEPS = web.AppKey("admin_deps", AdminDeps)


def admin_deps(request: web.Request) -> AdminDeps:
    return request.config_dict[ADMIN_DEPS]
