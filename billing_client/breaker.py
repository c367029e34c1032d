"""A circuit breaker, so that a dead billing costs microseconds instead of a timeout per call.

Closed: requests pass; `failures` consecutive failures (transport errors, timeouts, HTTP
5xx, requests abandoned while waiting) open it. Open: every request is refused at once
with BillingUnavailable for `reset_after` seconds. Then half-open: exactly one trial
request passes; its success closes the breaker, its failure opens it again for another
`reset_after` seconds. The clock is injected so tests move time instead of sleeping.

An outage is what lies between the breaker opening from closed and a success closing it;
`watch` callbacks hear of its start and its end once each, not of every refused request
or failed trial in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

from billing_client.errors import BillingUnavailable

log = logging.getLogger("pbxbridge.billing")

Watcher = Callable[[bool, str], None]
"""Called with (down, detail): True and the last failure when an outage starts, False
when it ends. Called from inside a request, so it must not block."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        reset_after: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "billing",
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self._threshold = failures
        self._reset_after = reset_after
        self._now = monotonic
        self._name = name
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        """Tell `watcher` when an outage starts and when it ends."""
        self._watchers.append(watcher)

    def _tell(self, down: bool, detail: str) -> None:
        for watcher in self._watchers:
            try:
                watcher(down, detail)
            except Exception:
                log.exception("%s breaker watcher failed", self._name)

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._now() - self._opened_at >= self._reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self) -> bool:
        """Permission to send one request; raises BillingUnavailable when refused.

        Returns True when this request is the half-open trial: the caller must then report
        its end with `success`, `failure` or `release`, or no other trial will pass.
        """
        state = self.state
        if state == BreakerState.CLOSED:
            return False
        if state == BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        assert self._opened_at is not None
        left = max(0.0, self._reset_after - (self._now() - self._opened_at))
        raise BillingUnavailable(
            f"{self._name} circuit breaker open after {self._failures} consecutive failures"
            + (f"; next trial in {left:.1f} s" if state == BreakerState.OPEN else "; trial running")
        )

    def success(self, trial: bool = False) -> None:
        was_open = self._opened_at is not None
        self._failures = 0
        self._opened_at = None
        if trial:
            self._trial_in_flight = False
        if was_open:
            self._tell(False, "answering again")

    def failure(self, trial: bool = False, reason: str = "") -> None:
        """One failed request; `reason` (safe to show: no secrets) says what went wrong."""
        self._failures += 1
        if trial:  # already open: the same outage goes on
            self._trial_in_flight = False
            self._opened_at = self._now()
        elif self._opened_at is None and self._failures >= self._threshold:
            self._opened_at = self._now()
            detail = f"{self._failures} failures in a row"
            self._tell(True, f"{detail}, the last: {reason}" if reason else detail)

    def release(self, trial: bool = False) -> None:
        """The request ended without telling anything about the billing's health."""
        if trial:
            self._trial_in_flight = False
