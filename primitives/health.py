"""How a running part says whether it can do its job: the shape /healthz (web/) and the
status page read, defined here so that any room can answer it without importing web/.

A part implements `HealthCheck` itself (a `name` and `async def health()`), or the root
adapts it (pbxbridge/health.py reads what the part already exposes). `health()` is cheap
and bounded: it reads state the part keeps, or asks one quick question (`SELECT 1`); the
caller bounds it in time anyway and takes an exception or a timeout for `down`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class HealthStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    """Working with less: retrying a lost link, answering from a cache, waiting for a folder."""
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Health:
    """One part's state; `reason` is one line for a person (no secret), empty when ok."""

    status: HealthStatus
    reason: str = ""

    @classmethod
    def ok(cls, reason: str = "") -> Health:
        return cls(HealthStatus.OK, reason)

    @classmethod
    def degraded(cls, reason: str) -> Health:
        return cls(HealthStatus.DEGRADED, reason)

    @classmethod
    def down(cls, reason: str) -> Health:
        return cls(HealthStatus.DOWN, reason)


class HealthCheck(Protocol):
    """A part that can tell its health. `name` is its key in /healthz (`database`, `ami`)."""

    @property
    def name(self) -> str: ...

    async def health(self) -> Health: ...
