"""Reconnect delays: exponential from `initial` to `maximum`, each spread by ±`jitter`.

The jitter keeps many pbxbridge processes (or one restarted Asterisk with several
clients) from reconnecting in lock-step.
"""

from __future__ import annotations

from collections.abc import Callable


class Backoff:
    def __init__(
        self, initial: float, maximum: float, jitter: float, random: Callable[[], float]
    ) -> None:
        self._initial = initial
        self._maximum = maximum
        self._jitter = jitter
        self._random = random
        self._failures = 0

    def reset(self) -> None:
        """A login succeeded: the next failure waits `initial` again."""
        self._failures = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; doubles until `maximum`."""
        # min() on the exponent keeps 2**n from growing without bound on a long outage.
        base = min(self._initial * 2.0 ** min(self._failures, 64), self._maximum)
        self._failures += 1
        spread = self._jitter * (2.0 * self._random() - 1.0)
        return max(0.0, base * (1.0 + spread))
