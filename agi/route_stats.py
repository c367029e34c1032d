"""Per-route counts of FastAGI sessions by result, with a latency histogram.

The server owns one `RouteStats` per route, made at start; a finished session costs a
dict increment, a bisect and a list increment: nothing is allocated per session. The
figures are read at scrape time (pbxbridge/metrics.py turns them into Prometheus
families), so the hot path never touches a metrics library.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0
)  # fmt: skip
"""Upper bounds (seconds) of the histogram: a lookup takes milliseconds, an IVR menu that
plays prompts and waits for digits minutes."""

RESULTS: tuple[str, ...] = ("ok", "hangup", "agi_error", "handler_error", "timeout", "cancelled")
"""How a session ended: ok (the route returned), hangup (the caller left), agi_error (a
protocol or command failure), handler_error (a bug: logged with its traceback), timeout
(agi.session_timeout), cancelled (shutdown)."""


class RouteStats:
    __slots__ = ("buckets", "results", "seconds")

    def __init__(self) -> None:
        self.results: dict[str, int] = dict.fromkeys(RESULTS, 0)
        self.buckets: list[int] = [0] * (len(LATENCY_BUCKETS) + 1)
        """Sessions per bucket (not cumulative); the last one is over the largest bound."""
        self.seconds = 0.0

    def observe(self, result: str, seconds: float) -> None:
        self.results[result] += 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.seconds += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' `le` buckets: sessions at or under each bound, then `+Inf` (all)."""
        bounds = [repr(b) for b in LATENCY_BUCKETS] + ["+Inf"]
        return list(zip(bounds, accumulate(self.buckets), strict=True))
