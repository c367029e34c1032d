"""Alerts: what staff must look at, told once, to the log and (in the service) to Telegram.

Components raise an alert through a plain `Callable[[str], Awaitable[None]]`: Ubilling
said a money move was done but nothing changed, the billing went down or came back, the
call-file spooler stopped. The billing backend needs that callable when `open_core` builds
it, before the Service has built Telegram; so the root builds one `Alerts` first, hands it
to everything, and the Service `attach`es the notifier once it exists. The CLI, which runs
no notifier, keeps log-only alerts.

The same text within `repeat_after` seconds is told once (the log line and the message);
how often it came meanwhile is said the next time it is told. Rate limiting is the
notifier's own: a flood of different alerts becomes one summary there, as missed calls do.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

log = logging.getLogger("pbxbridge")

Alert = Callable[[str], Awaitable[None]]

REPEAT_AFTER = 600.0
"""Seconds during which the same alert text is not told again."""
MAX_REMEMBERED = 1000
"""Distinct texts remembered for the repeat check; past this the oldest are forgotten."""


@dataclass(slots=True)
class _Told:
    at: float
    repeats: int = 0


class Alerts:
    """The one alert callable of a process: the log always, attached sinks when there are."""

    def __init__(
        self,
        *,
        repeat_after: float = REPEAT_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repeat_after = repeat_after
        self._now = monotonic
        self._sinks: list[Alert] = []
        self._told: OrderedDict[str, _Told] = OrderedDict()

    def attach(self, sink: Alert) -> None:
        """Also tell `sink` (the Telegram notifier) from now on."""
        self._sinks.append(sink)

    def detach(self, sink: Alert) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    @asynccontextmanager
    async def attached(self, sink: Alert) -> AsyncIterator[None]:
        """`sink` attached while the block runs: a part of the Service's lifecycle."""
        self.attach(sink)
        try:
            yield
        finally:
            self.detach(sink)

    async def __call__(self, message: str) -> None:
        """Tell `message` unless it was told less than `repeat_after` seconds ago. Never raises."""
        now = self._now()
        told = self._told.get(message)
        if told is not None and now - told.at < self._repeat_after:
            told.repeats += 1
            return
        text = message
        if told is not None and told.repeats:
            text += f" (and {told.repeats} more time(s) in the {self._repeat_after:g} s before)"
        self._told.pop(message, None)
        self._told[message] = _Told(now)
        while len(self._told) > MAX_REMEMBERED:
            self._told.popitem(last=False)
        log.error("ALERT: %s", text)
        for sink in list(self._sinks):
            try:
                await sink(text)
            except Exception:
                log.exception("an alert could not be passed on")
