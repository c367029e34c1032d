"""What a backend asked its billing, and what failed: plain counts, read by /metrics.

A backend keeps a `RequestStats` as `stats` (`HasRequestStats`); the root's collector
(pbxbridge/metrics.py) turns them into Prometheus counters at scrape time, so nothing here
depends on prometheus_client and the hot path pays one dict increment. Labels stay bounded
because both keys come from the code, never from a reply or a caller: `kind` is the
request's name (Ubilling: `userstatus`, `realname`, `setcredit` …; the embedded billing:
`lookup_call`, `lookup_number`, `lookup_login`), `error` one of the `ERRORS` below.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

BREAKER_OPEN = "breaker_open"
"""Not sent: the circuit breaker refused it (Ubilling failing)."""
NOT_SENT = "not_sent"
"""Not sent: no connection, no URL."""
FATE_UNKNOWN = "fate_unknown"
"""Sent, no usable answer: a timeout, HTTP 5xx, the connection lost mid-way."""
HTTP_STATUS = "http_status"
"""Answered with a status that is no answer (a redirect, 4xx): a configuration problem."""
ABANDONED = "abandoned"
"""The caller stopped waiting (its deadline passed) before the answer came."""
DATABASE = "database"
"""The embedded billing's database failed the query."""
ERRORS: Final = frozenset({BREAKER_OPEN, NOT_SENT, FATE_UNKNOWN, HTTP_STATUS, ABANDONED, DATABASE})


@dataclass
class RequestStats:
    requests: Counter[str] = field(default_factory=Counter)
    """Requests asked for, by kind (those the breaker refused included)."""
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Requests that got no answer, by (kind, error)."""

    def asked(self, kind: str) -> None:
        self.requests[kind] += 1

    def failed(self, kind: str, error: str) -> None:
        self.errors[kind, error] += 1


@runtime_checkable
class HasRequestStats(Protocol):
    """A backend that counts its requests (both of pbxbridge's do)."""

    @property
    def stats(self) -> RequestStats: ...
