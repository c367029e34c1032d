"""Fixtures for AMI tests: a fake Asterisk on an ephemeral port and clients pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import pytest

from ami_listener import AmiClient, AmiHealth, AmiSettings
from tests.fakes.ami_asterisk import FakeAmi

SECRET = "Tr0ub4dor&3-not-in-logs"

# Small timeouts keep failing tests short; a test that depends on one sets it explicitly.
TEST_SETTINGS: dict[str, Any] = {
    "host": "127.0.0.1",
    "connect_timeout": 2.0,
    "action_timeout": 2.0,
    "ping_interval": 30.0,
    "ping_timeout": 2.0,
    "backoff_initial": 0.02,
    "backoff_max": 0.2,
    "auth_failed_backoff": 60.0,
}


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `predicate()` holds; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        # Polling is deliberate: client state and counters have no event to wait on.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def connected(client: AmiClient, within: float = 5.0) -> None:
    await until(lambda: client.health is AmiHealth.CONNECTED, within)


class HealthLog:
    """Every health change a client reports, in order."""

    def __init__(self, client: AmiClient) -> None:
        self.changes: list[tuple[AmiHealth, str]] = []
        client.on_health(self._record)

    def _record(self, health: AmiHealth, detail: str) -> None:
        self.changes.append((health, detail))

    @property
    def states(self) -> list[AmiHealth]:
        return [health for health, _ in self.changes]


class MakeClient(Protocol):
    async def __call__(
        self, *, start: bool = True, wait: bool = True, **settings: Any
    ) -> AmiClient: ...


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    async with FakeAmi(secret=SECRET) as server:
        yield server


@pytest.fixture
async def make_client(fake: FakeAmi) -> AsyncIterator[MakeClient]:
    """A client for `fake` (settings overridable); started, logged in, stopped afterwards."""
    clients: list[AmiClient] = []

    async def make(*, start: bool = True, wait: bool = True, **settings: Any) -> AmiClient:
        values = {**TEST_SETTINGS, "port": fake.port, "secret": SECRET, **settings}
        client = AmiClient(AmiSettings(**values))
        clients.append(client)
        if start:
            await client.start()
            if wait:
                await connected(client)
        return client

    yield make
    for client in clients:
        await client.stop()
