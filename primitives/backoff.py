"""The one backoff: delays growing by `factor` from `initial` to `maximum`, spread by ±`jitter`.

`maximum` always wins: below `initial` it is simply every delay.

Two ways to use it, one rule for both:

* `next_delay()` / `reset()` for a loop that keeps its failure count in memory (the AMI
  reconnects, a worker's failing step);
* `delay_for(failures)`, pure, for a caller that keeps the count elsewhere (an outbox row's
  `attempts`, a chat's failures): the same numbers, no state, no jitter.

The jitter keeps many processes (or one restarted Asterisk with several clients) from
retrying in lock-step; `random` is injected so tests know the spread.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

_MAX_EXPONENT = 64
"""Growth stops counting here: a long outage must not overflow `factor ** failures`."""


class Backoff:
    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        factor: float = 2.0,
        jitter: float = 0.0,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if initial < 0 or maximum < 0:
            raise ValueError(f"backoff delays cannot be negative (got {initial}, {maximum})")
        if factor < 1:
            raise ValueError(f"backoff factor must be at least 1 (got {factor})")
        if not 0 <= jitter <= 1:
            raise ValueError(f"backoff jitter must be within 0..1 (got {jitter})")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._random = random
        self._failures = 0

    @classmethod
    def fixed(cls, delay: float) -> Backoff:
        """The same delay after every failure."""
        return cls(delay, delay)

    @property
    def failures(self) -> int:
        """Failures counted by `next_delay()` since the last `reset()`."""
        return self._failures

    def delay_for(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1: `initial`), no jitter.

        Pure: for callers that store the count themselves. Below 1 counts as 1.
        """
        exponent = min(max(failures, 1) - 1, _MAX_EXPONENT)
        try:
            grown = self.initial * self.factor**exponent
        except OverflowError:
            return self.maximum
        return min(grown, self.maximum)

    def next_delay(self) -> float:
        """Count one more failure; the seconds to wait before the next attempt (jittered)."""
        self._failures += 1
        base = self.delay_for(self._failures)
        spread = self.jitter * (2.0 * self._random() - 1.0)
        return max(0.0, base * (1.0 + spread))

    def reset(self) -> None:
        """It worked: the next failure waits `initial` again."""
        self._failures = 0

    def __repr__(self) -> str:
        return (
            f"Backoff({self.initial:g}..{self.maximum:g} s, x{self.factor:g}, "
            f"±{self.jitter:.0%}, {self._failures} failure(s))"
        )
