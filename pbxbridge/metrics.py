"""Collectors that read today's parts at scrape time (see web/metrics.py for the pattern).

Each is an object with `collect()` yielding prometheus_client metric families built from
counters the part keeps anyway, so the parts do not import prometheus_client and nothing
is counted on a hot path for Prometheus' sake. A new one: a small class here (or in the
part, when the part wants to own it) and one `metrics.add(...)` in pbxbridge/webserver.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from agi.server import FastAgiServer
from ami_listener import AmiClient, AmiHealth
from billing_client.breaker import BreakerState, CircuitBreaker
from billing_client.client import BillingClient

AGI_CONNECTION_COUNTERS = {
    "accepted": "accepted",
    "rejected": "rejected",
    "evicted": "evicted",
    "header_failures": "header_failure",
    "unknown_routes": "unknown_route",
}
"""AgiServerStats fields counted per connection (not per route), and their label."""


class AgiCollector:
    def __init__(self, server: FastAgiServer) -> None:
        self._server = server

    def collect(self) -> Iterator[Metric]:
        stats = self._server.stats
        sessions = CounterMetricFamily(
            "pbxbridge_agi_sessions",
            "FastAGI sessions finished, by route and result.",
            labels=["route", "result"],
        )
        latency = HistogramMetricFamily(
            "pbxbridge_agi_session_seconds",
            "Time from a session's route starting to its end, by route.",
            labels=["route"],
        )
        for route, timings in sorted(stats.routes.items()):
            for result, count in timings.results.items():
                sessions.add_metric([route, result], count)
            latency.add_metric([route], timings.cumulative(), timings.seconds)
        yield sessions
        yield latency
        connections = CounterMetricFamily(
            "pbxbridge_agi_connections",
            "FastAGI connections by what became of them before a route ran.",
            labels=["outcome"],
        )
        for field, label in AGI_CONNECTION_COUNTERS.items():
            connections.add_metric([label], getattr(stats, field))
        yield connections
        yield GaugeMetricFamily(
            "pbxbridge_agi_sessions_active",
            "FastAGI sessions running now.",
            value=self._server.active_sessions,
        )
        yield GaugeMetricFamily(
            "pbxbridge_agi_connections_pending",
            "FastAGI connections still sending their environment block.",
            value=self._server.pending_connections,
        )


class AmiCollector:
    def __init__(self, ami: AmiClient) -> None:
        self._ami = ami

    def collect(self) -> Iterator[Metric]:
        status = self._ami.status()
        yield GaugeMetricFamily(
            "pbxbridge_ami_up",
            "1 while logged in to Asterisk's AMI.",
            value=1 if status.health is AmiHealth.CONNECTED else 0,
        )
        state = GaugeMetricFamily(
            "pbxbridge_ami_state", "The AMI link's state (1 for the current one).", labels=["state"]
        )
        for health in AmiHealth:
            state.add_metric([health.value], 1 if health is status.health else 0)
        yield state
        yield CounterMetricFamily(
            "pbxbridge_ami_reconnects",
            "Logins to AMI after the first one.",
            value=max(0, status.logins - 1),
        )


class BillingCollector:
    def __init__(self, billing: BillingClient) -> None:
        self._billing = billing

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "pbxbridge_billing_stale_numbers",
            "Numbers the stale cache could answer for while the billing fails.",
            value=self._billing.stale_answers,
        )
        breaker = getattr(self._billing.backend, "breaker", None)
        if not isinstance(breaker, CircuitBreaker):
            return  # the embedded billing has no breaker
        current = breaker.state
        state = GaugeMetricFamily(
            "pbxbridge_billing_breaker_state",
            "The billing circuit breaker's state (1 for the current one).",
            labels=["state"],
        )
        for each in BreakerState:
            state.add_metric([each.value], 1 if each is current else 0)
        yield state
        yield GaugeMetricFamily(
            "pbxbridge_billing_consecutive_failures",
            "Billing requests failed in a row (0 after a success).",
            value=breaker.consecutive_failures,
        )
