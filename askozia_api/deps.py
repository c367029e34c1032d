"""What the faces are given by the root (pbxbridge/webserver.py), typed; no globals.

The lockout guard and the money-move runner are the IVR's own (agi/), passed in as
callables and a structural protocol, so a pay card guessed through the remoteapi counts
toward the same lockout as one guessed on the phone, and a money move the face started is
waited for at shutdown like the IVR's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from askozia_api.auth_log import AuthFailures
from billing_client.client import BillingClient
from callfile_spooler.callbacks import CallbackService
from primitives.clock import Clock

T = TypeVar("T")


class CardGuard(Protocol):
    """The lockout of pay-card guessing (agi.lockout.LockoutGuard fits)."""

    async def locked_until(self, number: str | None, login: str | None) -> datetime | None: ...

    async def record_failure(self, number: str | None, login: str | None, reason: str) -> bool: ...


class MoveRunner(Protocol):
    """Runs a money move to its end even when the request is cancelled (RouteDeps.money_move)."""

    def __call__(self, move: Coroutine[Any, Any, T], /) -> Awaitable[T]: ...


async def run_here(move: Coroutine[Any, Any, T], /) -> T:
    """A MoveRunner for tests and tools that own no IVR: just awaits the move."""
    return await move


@dataclass(frozen=True)
class RemoteApiDeps:
    key: str
    """http.remoteapi_key (not empty: an empty key means the face is not mounted)."""
    billing: BillingClient
    clock: Clock
    failures: AuthFailures
    money: bool = False
    """http.remoteapi_money: setcredit and paycardpay act."""
    credit_amount: Decimal | None = None
    """billing.credit_amount: the IVR's credit limit (None: the subscriber's tariff fee)."""
    guard: CardGuard | None = None
    run_move: MoveRunner = run_here
    callbacks: CallbackService | None = None
    """Where `action=callmeback` puts requests (None: callbacks are off)."""
