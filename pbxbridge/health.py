"""The health of today's parts, adapted to `primitives.health.HealthCheck` for /healthz.

Each check reads what its part already exposes (no new state in the parts) and is cheap:
only the database one asks anything (`SELECT 1`). A part that is off in the settings is
`ok` with the reason `off`. Which of them are critical (down = the service is down) is
decided where they are registered (pbxbridge/webserver.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from agi.server import FastAgiServer
from ami_listener import AmiClient, AmiHealth
from billing_client.breaker import BreakerState
from billing_client.client import BillingClient
from callfile_spooler.spooler import Spooler
from jobs.scheduler import Scheduler
from primitives.health import Health
from telepony.feed import TeleponyFeed
from webhooks.service import Webhooks

OFF = Health.ok("off")


@dataclass(frozen=True)
class DatabaseCheck:
    engine: AsyncEngine
    name: str = "database"

    async def health(self) -> Health:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return Health.down(f"{type(exc).__name__}: the database does not answer")
        return Health.ok()


@dataclass(frozen=True)
class BillingCheck:
    """The embedded billing is the database; Ubilling's state is its circuit breaker's
    (no request is sent for a health check)."""

    billing: BillingClient
    database: DatabaseCheck
    name: str = "billing"

    async def health(self) -> Health:
        breaker = getattr(self.billing.backend, "breaker", None)
        if breaker is None:
            return await self.database.health()
        state = breaker.state
        if state is BreakerState.CLOSED:
            return Health.ok()
        failures = breaker.consecutive_failures
        failing = f"Ubilling failing (breaker {state.value}, {failures} failures in a row)"
        if self.billing.stale_answers > 0:
            return Health.degraded(
                f"{failing}; answering {self.billing.stale_answers} number(s) from the stale cache"
            )
        return Health.down(failing)


@dataclass(frozen=True)
class AmiCheck:
    ami: AmiClient | None
    name: str = "ami"

    async def health(self) -> Health:
        if self.ami is None:
            return OFF
        status = self.ami.status()
        if status.health is AmiHealth.CONNECTED:
            return Health.ok(status.banner or "")
        reason = status.health.value + (f": {status.detail}" if status.detail else "")
        return Health.down(reason)


@dataclass(frozen=True)
class AgiCheck:
    server: FastAgiServer
    name: str = "agi"

    async def health(self) -> Health:
        if not self.server.is_serving:
            return Health.down("FastAGI server not listening")
        return Health.ok(
            f"{self.server.active_sessions} session(s), {self.server.pending_connections} pending"
        )


@dataclass(frozen=True)
class SpoolCheck:
    spooler: Spooler
    name: str = "spool"

    async def health(self) -> Health:
        if self.spooler.started.is_set():
            return Health.ok()
        return Health.degraded(
            f"waiting for {self.spooler.folder.outgoing} (campaigns and callbacks wait)"
        )


@dataclass(frozen=True)
class TelegramCheck:
    """Notices still queued are the one sign of trouble the notifier exposes."""

    queued: Callable[[], int] | None
    """How many notices wait; None: Telegram is off."""
    name: str = "telegram"

    async def health(self) -> Health:
        if self.queued is None:
            return OFF
        return Health.ok(f"{self.queued()} notice(s) queued")


@dataclass(frozen=True)
class SchedulerCheck:
    """Degraded while a job fails or has stopped working (the scheduler's own account)."""

    scheduler: Scheduler | None
    name: str = "scheduler"

    async def health(self) -> Health:
        if self.scheduler is None:
            return OFF
        return await self.scheduler.health()


@dataclass(frozen=True)
class TeleponyCheck:
    """The feed's own account: degraded while MySQL fails (legs wait), down while the
    outbox is full (new legs refused)."""

    feed: TeleponyFeed | None
    name: str = "telepony"

    async def health(self) -> Health:
        if self.feed is None:
            return OFF
        return await self.feed.health()


@dataclass(frozen=True)
class WebhooksCheck:
    """Degraded while a webhook keeps failing or the outbox cannot be read (the part's own
    account); ok `off` without [[webhooks]]."""

    webhooks: Webhooks
    name: str = "webhooks"

    async def health(self) -> Health:
        return await self.webhooks.health()
