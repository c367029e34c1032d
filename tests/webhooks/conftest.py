"""Webhooks on a real database, a real receiver, and virtual time: the worker's waits
move the clock instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from primitives.clock import FixedClock
from tests.conftest import Database
from tests.webhooks.receiver import SECRET, Receiver
from webhooks.events import KINDS
from webhooks.service import Webhooks
from webhooks.settings import DeliverySettings, WebhookSettings


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 5, 19, 0, tzinfo=UTC))


@pytest.fixture
async def receiver(clock: FixedClock) -> AsyncIterator[Receiver]:
    async with Receiver(now=lambda: clock.now().timestamp()).serving() as serving:
        yield serving


def hook(url: str, name: str = "billing", **values: Any) -> WebhookSettings:
    settings: dict[str, Any] = {
        "name": name,
        "url": url,
        "events": list(KINDS),
        "secret": SecretStr(SECRET),
        "timeout": 2.0,
    }
    return WebhookSettings(**(settings | values))


class Alerts:
    def __init__(self) -> None:
        self.told: list[str] = []

    async def __call__(self, message: str) -> None:
        self.told.append(message)


class VirtualTime:
    """The worker's `sleep`: the clock moves by the wait, no real time passes."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.instant += timedelta(seconds=seconds)
        await asyncio.sleep(0)


MakeWebhooks = Callable[..., Webhooks]


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
async def make_webhooks(
    database: Database, clock: FixedClock, alerts: Alerts
) -> AsyncIterator[MakeWebhooks]:
    made: list[Webhooks] = []

    def make(
        *hooks: WebhookSettings, sleep: Callable[[float], Any] | None = None, **delivery: Any
    ) -> Webhooks:
        settings = DeliverySettings(**({"retry_initial": 10, "retry_max": 600} | delivery))
        webhooks = Webhooks(
            database.sessions,
            clock,
            hooks,
            settings,
            alert=alerts,
            sleep=sleep or VirtualTime(clock),
        )
        made.append(webhooks)
        return webhooks

    yield make
    for webhooks in made:
        await webhooks.stop()


async def settle(webhooks: Webhooks, clock: FixedClock, *, within: int = 50) -> list[float | None]:
    """Run passes (moving the clock to each retry) until nothing is pending or due."""
    waits: list[float | None] = []
    for _ in range(within):
        wait = await webhooks.deliver_due()
        waits.append(wait)
        if wait is None:
            return waits
        clock.instant += timedelta(seconds=wait)
    raise AssertionError(f"still pending after {within} passes: {waits}")
