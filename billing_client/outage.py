"""A billing outage as alerts: one when the billing goes down, one when it is back.

The circuit breaker sees an outage start and end (see `breaker`); it tells its watchers
synchronously, from inside the request that tipped it, which may be a request being
cancelled at its caller's deadline. So each alert goes out on a task of its own, and
`aclose` waits for those still running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("pbxbridge.billing")

Alert = Callable[[str], Awaitable[None]]


class OutageAlerts:
    """A breaker watcher (`changed`) that alerts staff once per outage, not per call."""

    def __init__(self, name: str, alert: Alert | None) -> None:
        self._name = name
        self._alert = alert
        self._tasks: set[asyncio.Task[Any]] = set()

    def changed(self, down: bool, detail: str) -> None:
        if down:
            text = (
                f"{self._name} does not answer ({detail}); until it does, calls get the "
                "last known answer or an error and money moves are not sent"
            )
        else:
            text = f"{self._name} answers again"
        if self._alert is None:
            log.warning("%s", text)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nothing to run the alert on (not seen in practice)
            log.warning("%s", text)
            return
        task = loop.create_task(self._send(self._alert, text), name="billing-outage-alert")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, alert: Alert, text: str) -> None:
        try:
            await alert(text)
        except Exception:
            log.exception("alert failed: %s", text)

    async def aclose(self) -> None:
        """Wait for the alerts still being passed on."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
