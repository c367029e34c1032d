"""How many call files a campaign may spool right now.

Asterisk starts every file it finds in `outgoing/` at once (one thread per file, no cap),
so the three limits live here, per campaign:

* `max_concurrent`: calls alive (spooled and not finished) — the caller counts them;
* `cps`: new calls per second, as a sliding window: in any window of `window` seconds
  at most `per_window` calls start. For cps >= 1 that is floor(cps) calls in any second
  (a fractional part is dropped rather than let a second carry more than cps); below 1 it
  is one call per 1/cps seconds;
* bundles (the original service's `bundle`/`timeout`): after `bundle_size` calls, nothing
  for `bundle_delay` seconds.

The pacer only does arithmetic on instants it is given; it never reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_CPS = 1 / 86_400
"""One call a day: slower windows (and longer bundle delays) overflow date arithmetic."""
MAX_BUNDLE_DELAY = 7 * 86_400.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_concurrent: int
    cps: float
    bundle_size: int = 0
    bundle_delay: float = 0.0

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if not MIN_CPS <= self.cps < math.inf:
            raise ValueError("cps must be calls per second, at least 1/86400 (one a day)")
        if self.bundle_size < 0 or not 0 <= self.bundle_delay <= MAX_BUNDLE_DELAY:
            raise ValueError(
                "bundle size cannot be negative, and the delay between bundles must be "
                f"0-{MAX_BUNDLE_DELAY:g} s (a week)"
            )

    @property
    def per_window(self) -> int:
        return max(1, math.floor(self.cps))

    @property
    def window(self) -> timedelta:
        seconds = max(1.0, self.per_window / self.cps)
        return timedelta(microseconds=math.ceil(seconds * 1_000_000))


class Pacer:
    def __init__(
        self,
        limits: Limits,
        recent: Iterable[datetime] = (),
        last_spooled: datetime | None = None,
    ) -> None:
        """After a restart, `recent` (when the campaign's latest calls were spooled) carries
        the cps window over, and the last spool time counts as the end of a bundle."""
        self.limits = limits
        self._recent: deque[tuple[datetime, int]] = deque((t, 1) for t in sorted(recent))
        self._in_bundle = 0
        self._bundle_resume: datetime | None = None
        if last_spooled is not None and limits.bundle_size and limits.bundle_delay:
            self._bundle_resume = last_spooled + timedelta(seconds=limits.bundle_delay)

    def set_limits(self, limits: Limits) -> None:
        """The campaign was edited: new limits apply from now on."""
        if limits.bundle_size != self.limits.bundle_size:
            self._in_bundle = 0
        self.limits = limits

    def _purge(self, now: datetime) -> int:
        horizon = now - self.limits.window
        recent = self._recent
        while recent and recent[0][0] <= horizon:
            recent.popleft()
        return sum(count for _, count in recent)

    def allowance(self, now: datetime, alive: int) -> int:
        """How many calls may be spooled at `now` with `alive` calls of this campaign alive."""
        limits = self.limits
        free = limits.max_concurrent - alive
        if free <= 0:
            return 0
        free = min(free, limits.per_window - self._purge(now))
        if limits.bundle_size:
            if self._bundle_resume is not None and now < self._bundle_resume:
                return 0
            free = min(free, limits.bundle_size - self._in_bundle)
        return max(free, 0)

    def record(self, now: datetime, count: int) -> None:
        """`count` calls were spooled at `now`."""
        if count <= 0:
            return
        self._recent.append((now, count))
        limits = self.limits
        if limits.bundle_size:
            self._in_bundle += count
            if self._in_bundle >= limits.bundle_size:
                self._in_bundle = 0
                self._bundle_resume = now + timedelta(seconds=limits.bundle_delay)

    def next_opening(self, now: datetime) -> datetime | None:
        """When a time limit (window or bundle pause) that holds calls back now lifts; None
        when neither holds anything back (then only a finishing call frees room)."""
        candidates = []
        if self._bundle_resume is not None and now < self._bundle_resume:
            candidates.append(self._bundle_resume)
        if self._purge(now) >= self.limits.per_window and self._recent:
            candidates.append(self._recent[0][0] + self.limits.window)
        return min(candidates) if candidates else None
