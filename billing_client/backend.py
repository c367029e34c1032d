"""The contract every billing backend fulfils. Numbers arrive already normalised to E.164."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from billing_client.outcomes import (
    CreditOutcome,
    LoginMatch,
    Lookup,
    MoneySource,
    PaycardOutcome,
)
from billing_client.pause import EquipmentCheck, PauseOutcome


class BillingBackend(Protocol):
    name: str

    async def lookup_call(
        self,
        number: str,
        *,
        uniqueid: str | None = None,
        deadline: float | None = None,
        details: bool = True,
    ) -> Lookup:
        """Status and money for a real call. Ubilling logs it in its call history.

        `deadline` is the event-loop time (`loop.time()`) the answer is due by; a backend
        that asks in parts answers by then with the parts it has (see SubscriberInfo.unknown).
        `details` False: the caller needs only the status (and what comes with it for free);
        a backend that pays a request per detail (Ubilling) skips them, leaving them unknown.
        """

    def lookup_call_now(self, number: str) -> Lookup | None:
        """The answer `lookup_call` would give, when the backend knows it fresh without
        waiting for anything (the embedded billing's memory while nothing changed); None
        when it must be asked. Saves a call answered from memory its deadline timer."""

    async def lookup_number(self, number: str) -> Lookup:
        """A lookup that is not a call (CLI, SMS, missed calls): logs nothing in the billing."""

    async def lookup_login(self, login: str) -> Lookup: ...

    async def login_for_money(self, number: str) -> tuple[LoginMatch, str | None]:
        """The one login a money move may act on; a number shared by several is AMBIGUOUS."""

    async def set_credit(
        self, login: str, *, amount: Decimal | None, days: int, source: MoneySource
    ) -> CreditOutcome:
        """Self-service credit. `amount` None means the subscriber's tariff fee."""

    async def pay_card(self, login: str, card: str, *, source: MoneySource) -> PaycardOutcome: ...

    async def set_paused(
        self, login: str, paused: bool, *, number: str | None, source: MoneySource
    ) -> PauseOutcome:
        """The subscriber pauses (freezes) or resumes their own service. `number` (E.164)
        is the caller's, which Ubilling's setunpause echoes."""

    async def equipment_status(self, number: str) -> EquipmentCheck:
        """Whether the switch serving the subscriber owning `number` is up."""

    async def verify_pin(self, login: str, pin: str) -> bool | None:
        """Whether `pin` is the subscriber's IVR PIN; None when it has none (or the billing
        keeps no PINs)."""

    async def check(self) -> None:
        """Raise BillingError with a one-line reason when the billing cannot serve."""

    async def aclose(self) -> None: ...
