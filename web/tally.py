"""Events of one kind logged at most once per interval (a flood of refused requests
makes one line a minute, not one per request): the callback form, the admin login."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

LOG_EVERY = 300.0
"""Seconds between two log lines about the same kind of event."""


class Tally:
    """Events of one kind, logged at most once per `every` seconds: the first at once,
    then how many came since, with the latest one's detail."""

    def __init__(
        self,
        where: str,
        what: str,
        log: logging.Logger,
        every: float = LOG_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._where = where
        self._what = what
        self._log = log
        self._every = every
        self._monotonic = monotonic
        self._count = 0
        self._logged_at: float | None = None

    def note(self, detail: str) -> None:
        self._count += 1
        now = self._monotonic()
        if self._logged_at is not None and now - self._logged_at < self._every:
            return
        since = "" if self._logged_at is None else f" in the last {now - self._logged_at:.0f} s"
        self._log.warning(
            "%s: %d %s%s (latest: %s)", self._where, self._count, self._what, since, detail
        )
        self._logged_at = now
        self._count = 0
