"""Per-route FastAGI counts: results and Prometheus `le` buckets."""

from __future__ import annotations

from agi.route_stats import LATENCY_BUCKETS, RouteStats


def test_results_and_cumulative_buckets() -> None:
    stats = RouteStats()
    stats.observe("ok", 0.005)  # on a bound: counted in that bucket (le)
    stats.observe("ok", 0.0051)
    stats.observe("hangup", 301.0)  # over the largest bound: only in +Inf
    assert stats.results == {
        "ok": 2, "hangup": 1, "agi_error": 0, "handler_error": 0, "timeout": 0, "cancelled": 0
    }  # fmt: skip
    buckets = dict(stats.cumulative())
    assert buckets["0.005"] == 1
    assert buckets["0.01"] == 2
    assert buckets[repr(LATENCY_BUCKETS[-1])] == 2
    assert buckets["+Inf"] == 3
    assert round(stats.seconds, 4) == 301.0101
