"""/admin/status: how the service is, for staff. The same facts as /healthz (one
`HealthChecks.report()`, web/health.py) and the counters /metrics exports (FastAGI,
the AMI link, the billing backend and its breaker, SMS, the spool, jobs), read from the
same registry (web/metrics.py `Metrics.figures`): nothing is computed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aiohttp import web

from primitives.health import Health
from web.admin.deps import admin_deps
from web.admin.layout import admin_page
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.metrics import Figure

routes = AdminRoutes()

PARTS: Final = {
    "database": "Database",
    "billing": "Billing backend",
    "agi": "FastAGI",
    "ami": "AMI link",
    "spool": "Call-file spool",
    "telegram": "Telegram",
    "scheduler": "Scheduled jobs",
}
"""The health checks' names (web/health.py components) as the page titles them; a check
not listed here is shown by its name."""

GROUPS: Final = {
    "pbxbridge_agi": "FastAGI",
    "pbxbridge_ami": "AMI link",
    "pbxbridge_billing": "Billing backend",
    "pbxbridge_spool": "Call-file spool",
    "pbxbridge_sms": "SMS",
    "pbxbridge_missed": "Missed calls",
    "pbxbridge_callback": "Callback form",
    "pbxbridge_job": "Scheduled jobs",
}
"""Metric name prefixes shown, and the heading of each group."""

REFRESH_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    title: str
    health: Health
    critical: bool


def _group(figures: list[Figure]) -> list[tuple[str, list[Figure]]]:
    grouped: dict[str, list[Figure]] = {}
    for figure in figures:
        prefix = next(p for p in GROUPS if figure.family.startswith(p))
        grouped.setdefault(GROUPS[prefix], []).append(figure)
    return list(grouped.items())


@routes.get("/status", Permission.VIEW)
async def status(request: web.Request) -> web.StreamResponse:
    deps = admin_deps(request)
    report = await deps.health.report()
    critical = {m.check.name: m.critical for m in deps.health.checks}
    parts = [
        Part(name, PARTS.get(name, name), health, critical.get(name, False))
        for name, health in report.components.items()
    ]
    figures = await deps.metrics.figures(tuple(GROUPS))
    context = {
        "overall": report.status.value,
        "parts": parts,
        "backend": deps.api.billing.backend_name,
        "groups": _group(figures),
        "refresh": REFRESH_SECONDS,
    }
    return admin_page(request, "admin/status.html", context)
