"""Fixtures for FastAGI tests: a real server on an ephemeral port and a recording handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import pytest
import uvloop

from agi import AgiRequest, AgiSession, AgiSettings, FastAgiServer, Handler

T = TypeVar("T")

# Small timeouts keep failing tests short; tests that depend on one set it explicitly.
TEST_SETTINGS: dict[str, Any] = {
    "port": 0,
    "header_timeout": 5.0,
    "command_timeout": 5.0,
    "session_timeout": 10.0,
    "drain_timeout": 1.0,
}


class Serve(Protocol):
    async def __call__(self, handlers: Mapping[str, Handler], **settings: Any) -> FastAgiServer: ...


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a FastAgiServer on 127.0.0.1, port 0; every server is stopped afterwards."""
    servers: list[FastAgiServer] = []

    async def start(handlers: Mapping[str, Handler], **settings: Any) -> FastAgiServer:
        server = FastAgiServer(AgiSettings(**{**TEST_SETTINGS, **settings}), handlers)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


class Probe(Generic[T]):
    """A route that runs `body` and keeps what it returned or raised, one entry per call.

    The handler itself never raises, so the server sees a clean session end and the test
    reads the outcome with `await probe.result()`.
    """

    def __init__(self, body: Callable[[AgiRequest, AgiSession], Awaitable[T]]) -> None:
        self._body = body
        # Each outcome is a thunk that returns the value or raises the exception.
        self._outcomes: asyncio.Queue[Callable[[], T]] = asyncio.Queue()
        self.calls = 0

    async def __call__(self, request: AgiRequest, session: AgiSession) -> None:
        self.calls += 1
        try:
            value = await self._body(request, session)
        except Exception as exc:

            def fail(error: Exception = exc) -> T:
                raise error

            self._outcomes.put_nowait(fail)
        else:
            self._outcomes.put_nowait(lambda: value)

    async def result(self) -> T:
        return (await self._outcomes.get())()

    async def error(self) -> Exception:
        outcome = await self._outcomes.get()
        try:
            value = outcome()
        except Exception as exc:
            return exc
        raise AssertionError(f"expected an exception, the route returned {value!r}")


async def wait_until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition` holds (the test's timeout bounds the wait)."""
    # Polling is deliberate: server counters have no event to wait on.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends before it closes (a reset counts as closed)."""
    try:
        return await reader.read()
    except ConnectionResetError:
        return b""


BOTH_LOOPS = frozenset({"test_connection.py", "test_server.py", "test_flood.py"})
"""Modules whose tests run on asyncio's loop and on uvloop, which `pbxbridge run` uses:
the server's transport code must hold on both (uvloop's transports differ, e.g. they are
not asyncio.Transport subclasses)."""


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.path.name in BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}  # the default (None is not allowed here)
