"""Collectors that read today's parts at scrape time (see web/metrics.py for the pattern).

Each is an object with `collect()` yielding prometheus_client metric families built from
counters the part keeps anyway, so the parts do not import prometheus_client and nothing
is counted on a hot path for Prometheus' sake. A new one: a small class here (or in the
part, when the part wants to own it) and one `metrics.add(...)` in pbxbridge/webserver.py.
Figures only the database knows (SMS by state, call attempts by status, missed calls) are
read by `DatabaseFigures.refresh` before each scrape (`metrics.add_refresh`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.server import FastAgiServer
from ami_listener import AmiClient, AmiHealth
from billing_client.breaker import BreakerState, CircuitBreaker
from billing_client.client import BillingClient
from billing_client.stats import HasRequestStats
from callfile_spooler.counts import attempt_counts
from jobs.models import FAILURES
from jobs.runner import JobRunner
from missed_calls.counts import MissedCounts, missed_counts
from sms.counts import SmsCounts, sms_counts
from telepony.feed import TeleponyFeed
from web.callback_form import FormStats
from web.feed import LiveFeed
from webhooks.service import OUTCOMES, Webhooks

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
        yield from self._requests()
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

    def _requests(self) -> Iterator[Metric]:
        backend = self._billing.backend
        if not isinstance(backend, HasRequestStats):
            return
        stats = backend.stats
        requests = CounterMetricFamily(
            "pbxbridge_billing_requests",
            "Requests to the billing by backend and kind (Ubilling: the remoteapi request; "
            "embedded: the lookup), those refused by the breaker included.",
            labels=["backend", "kind"],
        )
        for kind, count in sorted(stats.requests.items()):
            requests.add_metric([backend.name, kind], count)
        yield requests
        errors = CounterMetricFamily(
            "pbxbridge_billing_errors",
            "Billing requests that got no answer, by backend, kind and error (breaker_open, "
            "not_sent, fate_unknown, http_status, abandoned, database).",
            labels=["backend", "kind", "error"],
        )
        for (kind, error), count in sorted(stats.errors.items()):
            errors.add_metric([backend.name, kind, error], count)
        yield errors


@dataclass(frozen=True, slots=True)
class _Figures:
    sms: SmsCounts
    attempts: dict[str, int]
    missed: MissedCounts


class DatabaseFigures:
    """SMS by state, call attempts by status, missed and recalled calls: `refresh` reads
    them (registered with `metrics.add_refresh`, so it runs, bounded in time, before each
    scrape) and `collect` yields what it read. A refresh that fails leaves nothing to
    yield: a gap in the graphs, not old figures shown as new."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._figures: _Figures | None = None

    async def refresh(self) -> None:
        self._figures = None
        self._figures = _Figures(
            sms=await sms_counts(self._sessions),
            attempts=await attempt_counts(self._sessions),
            missed=await missed_counts(self._sessions),
        )

    def __repr__(self) -> str:
        return "DatabaseFigures (SMS, call attempts, missed calls)"

    def collect(self) -> Iterator[Metric]:
        figures = self._figures
        if figures is None:
            return
        outbox = GaugeMetricFamily(
            "pbxbridge_sms_outbox_messages",
            "SMS in the outbox by state (queued, sending, sent, delivered, failed, unknown).",
            labels=["state"],
        )
        for state, count in figures.sms.outbox.items():
            outbox.add_metric([state], count)
        yield outbox
        inbox = GaugeMetricFamily(
            "pbxbridge_sms_inbox_messages",
            "SMS received, by stage (stored: sender lookup and auto-reply not settled yet).",
            labels=["stage"],
        )
        for stage, count in figures.sms.inbox.items():
            inbox.add_metric([stage], count)
        yield inbox
        attempts = GaugeMetricFamily(
            "pbxbridge_spool_attempts",
            "Call-file attempts (campaigns and callbacks) by status: queued, spooled and "
            "dialing are waiting or under way, the others are outcomes.",
            labels=["status"],
        )
        for status, count in figures.attempts.items():
            attempts.add_metric([status], count)
        yield attempts
        yield CounterMetricFamily(
            "pbxbridge_missed_calls",
            "Missed inbound calls recorded.",
            value=figures.missed.missed,
        )
        yield CounterMetricFamily(
            "pbxbridge_missed_calls_recalled",
            "Missed calls since called back (by staff, a callback, or the caller again).",
            value=figures.missed.recalled,
        )


class CallbackFormCollector:
    def __init__(self, stats: FormStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        submissions = CounterMetricFamily(
            "pbxbridge_callback_form_submissions",
            "Callback form submissions by outcome (accepted, honeypot, limited_ip …).",
            labels=["outcome"],
        )
        for outcome, count in self._stats.outcomes.items():
            submissions.add_metric([outcome.value], count)
        yield submissions


class FeedCollector:
    """The live feed: staff pages connected, events published, dropped for slow pages."""

    def __init__(self, feed: LiveFeed) -> None:
        self._feed = feed

    def collect(self) -> Iterator[Metric]:
        stats = self._feed.stats
        yield GaugeMetricFamily(
            "pbxbridge_feed_clients", "Staff pages on the live feed now.", value=self._feed.clients
        )
        yield CounterMetricFamily(
            "pbxbridge_feed_events", "Events published on the live feed.", value=stats.published
        )
        yield CounterMetricFamily(
            "pbxbridge_feed_events_dropped",
            "Events dropped for pages that did not keep up (each such page is told to resync).",
            value=stats.dropped,
        )
        yield CounterMetricFamily(
            "pbxbridge_feed_resyncs", "Resyncs sent to pages that fell behind.", value=stats.resyncs
        )


class JobsCollector:
    """The scheduler's runs in this process, by job and result."""

    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "pbxbridge_job_runs",
            "Job runs this process recorded, by job and result (ok, failed, timeout, skipped).",
            labels=["job", "result"],
        )
        for (job, result), count in sorted(self._runner.counts.items()):
            runs.add_metric([job, result], count)
        yield runs
        failing = GaugeMetricFamily(
            "pbxbridge_job_failing",
            "1 while the latest run of the job recorded here failed or timed out.",
            labels=["job"],
        )
        for job, result in sorted(self._runner.last.items()):
            failing.add_metric([job], 1 if result in FAILURES else 0)
        yield failing


class TeleponyCollector:
    """The TelePony feed: legs queued, written, refused; failed tries; MySQL's state."""

    def __init__(self, feed: TeleponyFeed) -> None:
        self._feed = feed

    def collect(self) -> Iterator[Metric]:
        feed, stats = self._feed, self._feed.stats
        yield GaugeMetricFamily(
            "pbxbridge_telepony_queued",
            "Cdr legs waiting in pbxbridge's database for the TelePony MySQL table.",
            value=feed.queued,
        )
        yield CounterMetricFamily(
            "pbxbridge_telepony_written",
            "Cdr legs inserted into the TelePony MySQL table.",
            value=stats.written,
        )
        yield CounterMetricFamily(
            "pbxbridge_telepony_batches",
            "Batches inserted into the TelePony MySQL table (one transaction each).",
            value=stats.batches,
        )
        yield CounterMetricFamily(
            "pbxbridge_telepony_failures",
            "Tries to write a batch to MySQL that failed (it is written later).",
            value=stats.failures,
        )
        legs = CounterMetricFamily(
            "pbxbridge_telepony_dropped",
            "Cdr legs that never reached the outbox, by reason (rejected: outbox full; "
            "lost: pbxbridge's database failed; bad_event: no UniqueID).",
            labels=["reason"],
        )
        legs.add_metric(["rejected"], stats.rejected)
        legs.add_metric(["lost"], stats.lost)
        legs.add_metric(["bad_event"], stats.bad_events)
        yield legs
        yield GaugeMetricFamily(
            "pbxbridge_telepony_up",
            "0 while writes to the TelePony MySQL table fail, else 1.",
            value=0 if feed.worker_failures() else 1,
        )


class WebhooksCollector:
    """Webhook deliveries in this process, by webhook and outcome."""

    def __init__(self, webhooks: Webhooks) -> None:
        self._webhooks = webhooks

    def collect(self) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "pbxbridge_webhook_deliveries",
            "Webhook events by webhook and outcome: queued (an outbox row written), delivered "
            "(2xx), retried (a failed attempt to be tried again), given_up (refused by the "
            "receiver, or max_age reached), rejected (the webhook's outbox was full).",
            labels=["webhook", "outcome"],
        )
        stats = self._webhooks.stats
        for name in sorted(self._webhooks.hooks):
            for outcome in OUTCOMES:
                deliveries.add_metric([name, outcome], stats[(name, outcome)])
        yield deliveries
