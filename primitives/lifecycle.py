"""Running parts: what a component promises, and the one runner that starts and stops them.

A component is anything with `async start()` and `async stop()`, or an async context
manager (`__aenter__` starts it, `__aexit__` stops it). The owner lists them in the
order they depend on each other:

    parts = [
        Part("sms outbox", outbox, stop_within=15),
        Part("ami", ami, stop_within=25),          # None: off, skipped
        Part("money moves", Hooks(stop=routes.drain)),
        Part("fastagi", agi, stop_within=15),
    ]
    async with Lifecycle(parts, log):   # or: await lifecycle.start() … await lifecycle.stop()
        ...

`Lifecycle` starts them top to bottom on one `AsyncExitStack` and stops them bottom to
top: what is started last (the server that takes calls) stops first. A part that fails to
start stops the ones already started, in reverse, and the error goes on. Each stop is
bounded by its part's `stop_within`: a part that overruns is cut off and named in the log,
and a stop that raises is logged; either way the parts below it still stop. `Hooks`
makes a part of two plain callables (aiogram's startup/shutdown hooks); aiohttp's
`cleanup_ctx` is the model of the whole (start in order, clean up in reverse).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

STOP_WITHIN = 10.0
"""Seconds a part's stop may take unless its entry says otherwise."""


@runtime_checkable
class Component(Protocol):
    """A running part: `start()` returns once it runs, `stop()` once it has stopped."""

    async def start(self) -> object: ...

    async def stop(self) -> object: ...


Runnable = Component | AbstractAsyncContextManager[Any]


class Hooks:
    """A part made of callables: `start` runs at its place going up, `stop` going down."""

    def __init__(
        self,
        start: Callable[[], Awaitable[object]] | None = None,
        stop: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._start = start
        self._stop = stop

    async def start(self) -> None:
        if self._start is not None:
            await self._start()

    async def stop(self) -> None:
        if self._stop is not None:
            await self._stop()


@dataclass(frozen=True, slots=True)
class Part:
    """One entry of the list: a name for the log, the component (None: off), its stop bound."""

    name: str
    component: Runnable | None
    stop_within: float = STOP_WITHIN


class Lifecycle:
    """Starts parts in order on one AsyncExitStack, stops them in reverse, each bounded."""

    def __init__(self, parts: Sequence[Part], log: logging.Logger) -> None:
        self.parts = tuple(parts)
        self._log = log
        self._stack: AsyncExitStack | None = None

    @property
    def running(self) -> list[str]:
        """Names of the parts that run (off ones left out), in start order."""
        return [p.name for p in self.parts if p.component is not None]

    async def start(self) -> None:
        if self._stack is not None:
            return
        async with AsyncExitStack() as stack:
            for part in self.parts:
                if part.component is not None:
                    await stack.enter_async_context(self._run(part, part.component))
            self._stack = stack.pop_all()

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> Lifecycle:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @asynccontextmanager
    async def _run(self, part: Part, component: Runnable) -> AsyncIterator[None]:
        if isinstance(component, Component):
            await component.start()
            stop: Callable[[], Awaitable[object]] = component.stop
        else:
            await component.__aenter__()
            stop = _exit_of(component)
        self._log.debug("%s started", part.name)
        try:
            yield
        finally:
            await self._stop(part, stop)

    async def _stop(self, part: Part, stop: Callable[[], Awaitable[object]]) -> None:
        bound = asyncio.timeout(part.stop_within)
        try:
            async with bound:
                await stop()
        except TimeoutError:
            if not bound.expired():
                self._log.exception("%s: stop failed", part.name)
            else:
                self._log.error("%s did not stop within %g s; cut off", part.name, part.stop_within)
        except Exception:
            self._log.exception("%s: stop failed", part.name)
        else:
            self._log.debug("%s stopped", part.name)


def _exit_of(manager: AbstractAsyncContextManager[Any]) -> Callable[[], Awaitable[object]]:
    async def leave() -> None:
        await manager.__aexit__(None, None, None)

    return leave
