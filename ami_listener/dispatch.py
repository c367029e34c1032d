"""Event handlers and the one task that runs them, in arrival order.

The socket reader only appends whole batches to a queue; one dispatcher task takes them
off and calls the handlers. A slow handler therefore delays later events (order is kept)
but never the reader, so Pongs and action responses keep flowing. A handler that raises
is logged with the event's name and the next handler runs.

Which handlers an event name gets is resolved once per distinct name and cached, so an
event nobody listens to (most of them: VarSet, Newexten…) costs one dict lookup and is
never queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable

from ami_listener.message import AmiMessage

logger = logging.getLogger("pbxbridge.ami")

EventHandler = Callable[[AmiMessage], Awaitable[None] | None]
Handlers = tuple[EventHandler, ...]
Batch = list[tuple[AmiMessage, Handlers]]

ANY_EVENT = "*"
BACKLOG_WARNING = 10_000
"""Queued events past which a (single) warning says the handlers cannot keep up."""
_ROUTE_CACHE_LIMIT = 4096


def _handler_name(handler: EventHandler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


class EventDispatcher:
    def __init__(self) -> None:
        self._registrations: list[tuple[str, EventHandler]] = []
        self._routes: dict[str, Handlers] = {}
        self._queue: asyncio.Queue[Batch] = asyncio.Queue()
        self._backlog = 0
        self._warned = False
        self._task: asyncio.Task[None] | None = None

    def on_event(self, name: str, handler: EventHandler) -> None:
        """Call `handler(event)` for each event called `name` (any case), or every event
        for "*". Handlers run in the order they were registered."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("an event name (or '*') is required")
        self._registrations.append((name.strip().lower(), handler))
        self._routes.clear()

    def handlers_for(self, name: str) -> Handlers:
        """The handlers for an event called `name` (empty: nobody listens)."""
        handlers = self._routes.get(name)
        if handlers is None:
            key = name.lower()
            handlers = tuple(h for n, h in self._registrations if n in (key, ANY_EVENT))
            if len(self._routes) >= _ROUTE_CACHE_LIMIT:
                self._routes.clear()
            self._routes[name] = handlers
        return handlers

    def publish(self, batch: Batch) -> None:
        """Queue events (each with its handlers) for the dispatcher task, in order."""
        if not batch:
            return
        self._queue.put_nowait(batch)
        self._backlog += len(batch)
        if self._backlog > BACKLOG_WARNING and not self._warned:
            self._warned = True
            logger.warning(
                "AMI event handlers are %d events behind; a handler is slow or stuck",
                self._backlog,
            )

    @property
    def backlog(self) -> int:
        """Events queued and not yet handled."""
        return self._backlog

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ami-event-dispatcher")

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        await self._queue.join()

    async def stop(self, drain_timeout: float) -> None:
        """Handle what is queued (for at most `drain_timeout` seconds), then stop the task."""
        task, self._task = self._task, None
        if task is None:
            return
        if task is asyncio.current_task():
            return  # stop() from a handler: _run() ends after this batch
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._backlog:
            logger.warning("AMI dispatcher stopped with %d events unhandled", self._backlog)

    async def _run(self) -> None:
        queue = self._queue
        me = asyncio.current_task()
        while self._task is me:
            batch = await queue.get()
            try:
                for event, handlers in batch:
                    for handler in handlers:
                        try:
                            result = handler(event)
                            if result is not None and inspect.isawaitable(result):
                                await result
                        except Exception:
                            logger.exception(
                                "AMI event handler %s failed on %s event",
                                _handler_name(handler),
                                event.name,
                            )
            finally:
                self._backlog -= len(batch)
                if self._warned and self._backlog < BACKLOG_WARNING // 2:
                    self._warned = False
                queue.task_done()
