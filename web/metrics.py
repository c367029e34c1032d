"""/metrics: Prometheus text from a registry the application owns (never the global one).

Two kinds of metrics:

- Kept here as they happen: HTTP requests by route (the canonical path, so the label set
  stays bounded), method and status, and their duration.
- Read from the parts at scrape time, by collectors (`Metrics.add(collector)`): a part
  keeps plain counters (FastAGI's `AgiServerStats`, the AMI client's status, the billing
  breaker) and a collector turns them into metric families when Prometheus asks. Nothing
  is counted twice and the part does not depend on prometheus_client. A collector is an
  object with `collect() -> Iterable[Metric]` (prometheus_client's Collector protocol);
  the root's are in pbxbridge/metrics.py. Figures that need the database (SMS by status)
  are read by an async refresher (`Metrics.add_refresh`) that runs, bounded in time,
  before each scrape and leaves what it read for its collector. A refresher that fails
(the database gone away) is told once when it starts failing, again at most once per
`FAILURE_REPEAT` seconds with the count of failed scrapes, and once when it reads again:
Prometheus scrapes every few seconds, and a line per scrape would bury the log.

Only addresses in http.metrics_allow may read it (403 otherwise), judged on the client
address web/addresses.py resolves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from web.addresses import client_ip, inside, parse_ip
from web.settings import IpNetwork

log = logging.getLogger("pbxbridge.web")

Refresh = Callable[[], Awaitable[None]]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method is counted as `other`: clients choose it, labels must stay bounded."""
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
FAILURE_REPEAT = 300.0
"""Seconds between two reminders that a refresher still fails."""


@dataclass
class _Streak:
    """Failed scrapes of one refresher since it last read, and when that was last told."""

    failures: int = 0
    told_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Figure:
    """One value of a metric, as a person reads it (the status page)."""

    family: str
    name: str
    labels: str
    """`outcome=ok, route=…`, or empty."""
    value: float


class Metrics:
    def __init__(
        self,
        refresh_timeout: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._refresh_timeout = refresh_timeout
        self._monotonic = monotonic
        self._refreshers: list[Refresh] = []
        self._streaks: dict[int, _Streak] = {}
        self._requests = Counter(
            "pbxbridge_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._seconds = Histogram(
            "pbxbridge_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self._requests.labels(route, method, str(status)).inc()
        self._seconds.labels(route).observe(seconds)

    def add(self, collector: Collector) -> None:
        """Read `collector` at every scrape (its metric names must be new)."""
        self.registry.register(collector)

    def add_refresh(self, refresh: Refresh) -> None:
        """Run `refresh` before every scrape (all of them together, bounded in time)."""
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        await self._refresh()
        return generate_latest(self.registry)

    async def figures(self, prefixes: tuple[str, ...]) -> list[Figure]:
        """The current values of the metrics whose names start with one of `prefixes`
        (refreshed as for a scrape): what the status page shows beside /healthz. Histogram
        buckets and `_created` timestamps are left out; a histogram gives its count and sum."""
        await self._refresh()
        found: list[Figure] = []
        for family in self.registry.collect():
            if not family.name.startswith(prefixes):
                continue
            for sample in family.samples:
                if sample.name.endswith(("_bucket", "_created")):
                    continue
                labels = ", ".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found.append(Figure(family.name, sample.name, labels, sample.value))
        return found

    async def _refresh(self) -> None:
        if self._refreshers:
            results = await asyncio.gather(
                *(asyncio.wait_for(r(), self._refresh_timeout) for r in self._refreshers),
                return_exceptions=True,
            )
            for index, result in enumerate(results):
                self._tell(index, result)

    def _tell(self, index: int, result: object) -> None:
        """Log a refresher's failure streak: its start, a reminder per interval, its end."""
        name = getattr(self._refreshers[index], "__qualname__", repr(self._refreshers[index]))
        streak = self._streaks.setdefault(index, _Streak())
        if not isinstance(result, BaseException):
            if streak.failures:
                log.info("metrics: %s reads again after %d failed scrapes", name, streak.failures)
            streak.failures = 0
            return
        streak.failures += 1
        now = self._monotonic()
        if streak.failures == 1:
            log.warning("metrics: %s failed: %r (its figures stay as last read)", name, result)
            streak.told_at = now
        elif now - streak.told_at >= FAILURE_REPEAT:
            log.warning(
                "metrics: %s still fails (%d scrapes so far): %r", name, streak.failures, result
            )
            streak.told_at = now


METRICS = web.AppKey("metrics", Metrics)
METRICS_ALLOW = web.AppKey("metrics_allow", tuple[IpNetwork, ...])


async def metrics_handler(request: web.Request) -> web.Response:
    ip = parse_ip(client_ip(request))
    if ip is None or not inside(ip, request.config_dict[METRICS_ALLOW]):
        raise web.HTTPForbidden(text="/metrics is not open to this address (http.metrics_allow)")
    body = await request.config_dict[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
