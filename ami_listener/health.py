"""The connection's health: a small state machine, its log lines and its callbacks.

Callbacks (sync or async) run one at a time, in the order of the changes, on a task of
their own: a slow Telegram alert never holds up a reconnect, and a callback that raises
is logged and does not stop the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

logger = logging.getLogger("pbxbridge.ami")


class AmiHealth(StrEnum):
    CONNECTING = "connecting"
    """Started, first connection not logged in yet."""
    CONNECTED = "connected"
    """Logged in; actions can be sent."""
    RECONNECTING = "reconnecting"
    """The link is down (refused, lost, dead on Ping, garbage) and a retry is scheduled."""
    AUTH_FAILED = "auth_failed"
    """Asterisk refused the login; retried only after `auth_failed_backoff`."""
    STOPPED = "stopped"
    """Not started, disabled, or stopped."""


DOWN_STATES = frozenset({AmiHealth.RECONNECTING, AmiHealth.AUTH_FAILED})

HealthCallback = Callable[[AmiHealth, str], Awaitable[None] | None]


class HealthTracker:
    """The current state; a change logs one line and notifies every callback once."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self.state = AmiHealth.STOPPED
        self.detail = "not started"
        self.since = monotonic()
        self._callbacks: list[HealthCallback] = []
        self._queue: asyncio.Queue[tuple[AmiHealth, str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add_callback(self, callback: HealthCallback) -> None:
        self._callbacks.append(callback)

    def set(self, state: AmiHealth, detail: str) -> bool:
        """Record `state`; True when it changed (and was logged and notified)."""
        self.detail = detail
        if state is self.state:
            return False
        self.state = state
        self.since = self._monotonic()
        level = logging.WARNING if state in DOWN_STATES else logging.INFO
        logger.log(level, "AMI %s: %s", state.value, detail)
        if self._callbacks:
            self._queue.put_nowait((state, detail))
        return True

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ami-health-callbacks")

    async def stop(self, drain_timeout: float) -> None:
        """Deliver what is queued (for at most `drain_timeout` seconds), then stop.

        The task stays the delivering one while it drains: giving it up first ended
        `_run()` after the callback then running, and what was queued behind it was never
        delivered (stop() then sat out the whole drain timeout)."""
        task = self._task
        if task is None:
            return
        if task is asyncio.current_task():
            self._task = None
            return  # stop() from a callback: _run() ends after this change
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout)
        self._task = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        me = asyncio.current_task()
        while self._task is me:
            state, detail = await self._queue.get()
            try:
                for callback in tuple(self._callbacks):
                    try:
                        result = callback(state, detail)
                        if inspect.isawaitable(result):
                            await result
                    except Exception:
                        logger.exception("AMI health callback %r failed on %s", callback, state)
            finally:
                self._queue.task_done()
