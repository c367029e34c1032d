"""What the routes are given by the root: the billing client, the lockout, settings, and
who hears of each caller's lookup (the live feed's screen pop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agi.lockout import LockoutGuard
from agi.settings import AgiSettings
from billing_client.client import BillingClient
from billing_client.outcomes import Lookup

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LookupSeen:
    """A caller's lookup made by a route: on which channel, for which number, the answer."""

    uniqueid: str
    number: str
    route: str
    lookup: Lookup


OnLookup = Callable[[LookupSeen], None]
"""Told of every caller lookup; must return at once (the call waits for its route)."""


@dataclass
class RouteDeps:
    billing: BillingClient
    lockout: LockoutGuard
    settings: AgiSettings
    on_lookup: OnLookup | None = None
    _money_moves: set[asyncio.Task[Any]] = field(default_factory=set)

    async def money_move(self, move: Coroutine[Any, Any, T]) -> T:
        """Run a money move to completion even when the call's session is cancelled.

        A session can be cut off (session deadline, shutdown, the caller's connection
        dropping), but a move sent to the billing must finish and land in the audit
        journal; the task is kept here until it does, and `drain()` waits for it.
        """
        task = asyncio.create_task(move)
        self._money_moves.add(task)
        task.add_done_callback(self._money_moves.discard)
        return await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait for money moves still in flight (at shutdown)."""
        if self._money_moves:
            await asyncio.gather(*self._money_moves, return_exceptions=True)
