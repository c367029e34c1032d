"""/healthz: every part's health in one JSON answer, 503 when the service cannot do its job.

    {"status": "degraded",
     "components": {"database": {"status": "ok", "reason": ""},
                    "ami": {"status": "down", "reason": "reconnecting: connection refused"}, …}}

Each part answers `primitives.health.HealthCheck` (`name`, `async def health()`); the
root adapts the parts that do not (pbxbridge/health.py) and registers each one as
critical or not. The overall status is the worst of them, except that a part that is not
critical and down makes the service `degraded`, not `down` (the AMI link: calls are still
answered). `down` answers HTTP 503, so a load balancer or systemd watchdog can act on the
status code alone. Checks run concurrently, each bounded by `timeout`: a check that
raises or does not answer in time is `down` with that reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from primitives.health import Health, HealthCheck, HealthStatus

log = logging.getLogger("pbxbridge.web")

_RANK = {HealthStatus.OK: 0, HealthStatus.DEGRADED: 1, HealthStatus.DOWN: 2}


@dataclass(frozen=True)
class Monitored:
    check: HealthCheck
    critical: bool
    """Down here means the service is down (database, billing, FastAGI)."""


@dataclass(frozen=True)
class HealthReport:
    status: HealthStatus
    components: dict[str, Health]

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "components": {
                name: {"status": h.status.value, "reason": h.reason}
                for name, h in self.components.items()
            },
        }


class HealthChecks:
    def __init__(self, timeout: float = 3.0) -> None:
        self._timeout = timeout
        self._checks: list[Monitored] = []

    def add(self, check: HealthCheck, *, critical: bool) -> None:
        if any(m.check.name == check.name for m in self._checks):
            raise ValueError(f"health check {check.name!r} added twice")
        self._checks.append(Monitored(check, critical))

    @property
    def checks(self) -> Sequence[Monitored]:
        return tuple(self._checks)

    async def _one(self, check: HealthCheck) -> Health:
        try:
            return await asyncio.wait_for(check.health(), self._timeout)
        except TimeoutError:
            return Health.down(f"no answer within {self._timeout:g} s")
        except Exception as exc:
            log.warning("health check %s failed", check.name, exc_info=True)
            return Health.down(f"check failed: {type(exc).__name__}")

    async def report(self) -> HealthReport:
        results = await asyncio.gather(*(self._one(m.check) for m in self._checks))
        overall = HealthStatus.OK
        for monitored, health in zip(self._checks, results, strict=True):
            effect = health.status
            if effect is HealthStatus.DOWN and not monitored.critical:
                effect = HealthStatus.DEGRADED
            if _RANK[effect] > _RANK[overall]:
                overall = effect
        components = {m.check.name: h for m, h in zip(self._checks, results, strict=True)}
        return HealthReport(overall, components)


HEALTH = web.AppKey("health", HealthChecks)


async def healthz_handler(request: web.Request) -> web.Response:
    report = await request.config_dict[HEALTH].report()
    status = 503 if report.status is HealthStatus.DOWN else 200
    return web.json_response(report.as_json(), status=status, headers={"Cache-Control": "no-store"})
