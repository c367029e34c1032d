"""What a flood does to the FastAGI server, told in one log line per interval.

Thousands of connections that never finish their header, come from outside `agi.allow` or
find `agi.max_sessions` full must not write a line each: a flood would bury the log (and
fill the disk) while telling nothing more than a count. The first of each kind in an
interval is logged in full (its address tells an admin where it comes from); the rest are
counted, and when the interval ends one line sums them up:

    FastAGI: 1,498 header-less connections closed (1,498 no complete header within 5 s),
    0 refused in the last 10 s
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from enum import Enum


class Dropped(Enum):
    """Why a connection went, and how the summary says it (closed or refused)."""

    HEADER_TIMEOUT = ("closed", "no complete header within agi.header_timeout")
    EVICTED = ("closed", "oldest still sending its header, over agi.max_pending")
    BAD_HEADER = ("closed", "header cut short or malformed")
    OVERSIZED = ("closed", "header over agi.max_header_bytes")
    NOT_ALLOWED = ("refused", "not in agi.allow")
    BUSY = ("refused", "agi.max_sessions sessions running")

    @property
    def verdict(self) -> str:
        return self.value[0]

    @property
    def words(self) -> str:
        return self.value[1]


class FloodLog:
    """Counts dropped connections by kind; logs the first of each, then one summary.

    `interval`: seconds from the first event to the summary; `flush()` writes it early
    (the server's `stop()` does, so a count is never lost).
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._log = logger
        self._interval = interval
        self._counts: Counter[Dropped] = Counter()
        self._since: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def note(self, kind: Dropped, message: str, *args: object) -> None:
        """Count one dropped connection; `message % args` is logged if it is the first."""
        self._counts[kind] += 1
        if self._counts[kind] == 1:
            self._log.warning(message, *args)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._since = loop.time()
            self._timer = loop.call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Write the summary of the interval so far (if it holds more than its first lines)
        and start over."""
        if self._timer is not None:
            self._timer.cancel()
        counts, since = self._counts, self._since
        self._counts, self._since, self._timer = Counter(), None, None
        if since is None or all(n <= 1 for n in counts.values()):
            return
        seconds = asyncio.get_running_loop().time() - since
        self._log.warning(
            "FastAGI: %s header-less connections closed%s, %s refused%s in the last %s s",
            f"{_total(counts, 'closed'):,}",
            _detail(counts, "closed"),
            f"{_total(counts, 'refused'):,}",
            _detail(counts, "refused"),
            f"{math.ceil(seconds):,}",
        )


def _total(counts: Counter[Dropped], verdict: str) -> int:
    return sum(n for kind, n in counts.items() if kind.verdict == verdict)


def _detail(counts: Counter[Dropped], verdict: str) -> str:
    shown = [f"{counts[k]:,} {k.words}" for k in Dropped if k.verdict == verdict and counts[k]]
    return f" ({', '.join(shown)})" if shown else ""
