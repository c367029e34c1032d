"""BillingClient: the one door to the billing. Every subscriber question and money move passes here.

It normalises numbers (unparseable input is NOTFOUND, never an exception), bounds lookups
in time, answers from the stale cache while the billing fails, resolves the one login a
money move may touch, and never cuts a money move off once it is sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
from decimal import Decimal

from billing_client.backend import BillingBackend
from billing_client.errors import BillingError
from billing_client.outcomes import (
    BillingResult,
    CreditOutcome,
    CreditReason,
    CreditResult,
    LoginMatch,
    Lookup,
    MoneySource,
    PaycardOutcome,
    PaycardResult,
)
from billing_client.pause import (
    EquipmentCheck,
    EquipmentReason,
    EquipmentStatus,
    PauseOutcome,
    PauseReason,
    PauseResult,
)
from billing_client.stale_cache import StaleCache
from primitives.phones import PhoneNormaliser

log = logging.getLogger("pbxbridge.billing")

_LOGIN = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
_CARD = re.compile(r"[0-9A-Za-z]{4,32}")


def clean_card(raw: str) -> str | None:
    """A pay card number as typed or spoken: spaces and dashes dropped; None when malformed."""
    card = re.sub(r"[\s\-]", "", raw or "")
    return card if _CARD.fullmatch(card) else None


class BillingClient:
    def __init__(
        self,
        backend: BillingBackend,
        phones: PhoneNormaliser,
        *,
        lookup_timeout: float = 1.5,
        stale: StaleCache | None = None,
        credit_days: int = 5,
        credit_amount: Decimal | None = None,
    ) -> None:
        self.backend = backend
        self.phones = phones
        self.lookup_timeout = lookup_timeout
        self._stale = stale or StaleCache(ttl=0)
        self._credit_days = credit_days
        self._credit_amount = credit_amount

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def stale_answers(self) -> int:
        """Numbers the stale cache could answer for while the billing fails (health page)."""
        return self._stale.size

    async def lookup_call(
        self,
        raw_number: str | None,
        *,
        uniqueid: str | None = None,
        deadline: float | None = None,
        details: bool = True,
    ) -> Lookup:
        """Who is calling, within `deadline` seconds (default lookup_timeout).

        On failure: the stale answer when one is fresh enough, else ERROR. The backend is
        told the deadline, so that details still missing then are left out rather than
        costing the whole answer. `details` False asks for the status only (a route that
        sets no detail variable): with Ubilling one request instead of four.
        """
        number = self.phones.normalise(raw_number)
        if number is None:
            return Lookup.unasked()
        known = self.backend.lookup_call_now(number)
        if known is not None:
            if known.subscriber is not None:
                self._stale.put(number, known.subscriber)
            return known
        seconds = deadline if deadline is not None else self.lookup_timeout
        due = asyncio.get_running_loop().time() + seconds
        try:
            async with asyncio.timeout_at(due):
                lookup = await self.backend.lookup_call(
                    number, uniqueid=uniqueid, deadline=due, details=details
                )
        except (BillingError, TimeoutError) as exc:
            reason = str(exc) or "billing did not answer in time"
            stale = self._stale.get(number)
            if stale is not None:
                log.warning("billing lookup failed (%s); answering stale for %s", reason, number)
                return Lookup(BillingResult.OK, stale, source="stale", error=reason)
            log.warning("billing lookup failed for %s: %s", number, reason)
            return Lookup.failed(reason)
        if lookup.subscriber is not None:
            self._stale.put(number, lookup.subscriber)
        return lookup

    async def find(self, number_or_login: str) -> Lookup:
        """A lookup that is not a call (CLI, SMS, notifications): a phone number or a login."""
        try:
            number = self.phones.normalise(number_or_login)
            if number is not None:
                lookup = await self.backend.lookup_number(number)
                if lookup.result != BillingResult.NOTFOUND:
                    return lookup
            if _LOGIN.fullmatch(number_or_login):
                return await self.backend.lookup_login(number_or_login)
            return Lookup.not_found()
        except BillingError as exc:
            return Lookup.failed(str(exc))

    async def by_number(self, raw_number: str | None) -> Lookup:
        """Who owns a phone number, asked as a lookup that is not a call (nothing is logged
        in the billing's call history); a text that is no phone number is NOTFOUND unasked."""
        number = self.phones.normalise(raw_number)
        if number is None:
            return Lookup.unasked()
        try:
            return await self.backend.lookup_number(number)
        except BillingError as exc:
            return Lookup.failed(str(exc))

    async def by_login(self, login: str) -> Lookup:
        """The subscriber with this login (never tried as a phone number)."""
        if not _LOGIN.fullmatch(login):
            return Lookup.unasked()
        try:
            return await self.backend.lookup_login(login)
        except BillingError as exc:
            return Lookup.failed(str(exc))

    async def login_for_money(self, raw_number: str | None) -> tuple[LoginMatch, str | None]:
        number = self.phones.normalise(raw_number)
        if number is None:
            return LoginMatch.NOTFOUND, None
        return await self.backend.login_for_money(number)

    async def set_credit(
        self,
        *,
        number: str | None = None,
        login: str | None = None,
        source: MoneySource,
        amount: Decimal | None = None,
    ) -> CreditOutcome:
        """Self-service credit for the subscriber owning `number` (or `login`, from the CLI)."""
        try:
            if login is None:
                match, login = await self.login_for_money(number)
                if match == LoginMatch.AMBIGUOUS:
                    return CreditOutcome(CreditResult.DENIED, CreditReason.AMBIGUOUS_NUMBER)
                if login is None:
                    return CreditOutcome(CreditResult.NOTFOUND)
            outcome = await self.backend.set_credit(
                login,
                amount=amount if amount is not None else self._credit_amount,
                days=self._credit_days,
                source=source,
            )
        except BillingError as exc:
            log.error("credit for %s failed: %s", login or number, exc)
            return CreditOutcome(CreditResult.ERROR, login=login, error=str(exc))
        self._stale.drop_login(login)
        log.info(
            "credit %s for %s (%s): %s %s",
            outcome.amount,
            login,
            source.describe(),
            outcome.result,
            outcome.reason or "",
        )
        return outcome

    async def pay_card(
        self,
        raw_card: str,
        *,
        number: str | None = None,
        login: str | None = None,
        source: MoneySource,
    ) -> PaycardOutcome:
        card = clean_card(raw_card)
        try:
            if login is None:
                match, login = await self.login_for_money(number)
                if login is None or match != LoginMatch.FOUND:
                    return PaycardOutcome(PaycardResult.NOTFOUND)
            if card is None:
                return PaycardOutcome(PaycardResult.INVALID, login=login)
            outcome = await self.backend.pay_card(login, card, source=source)
        except BillingError as exc:
            log.error("paycard for %s failed: %s", login or number, exc)
            return PaycardOutcome(PaycardResult.ERROR, login=login, error=str(exc))
        self._stale.drop_login(login)
        log.info(
            "paycard for %s (%s): %s %s",
            login,
            source.describe(),
            outcome.result,
            outcome.amount or "",
        )
        return outcome

    async def set_paused(
        self,
        paused: bool,
        *,
        number: str | None = None,
        login: str | None = None,
        source: MoneySource,
    ) -> PauseOutcome:
        """The subscriber owning `number` (or `login`) pauses or resumes their service.

        The login is found as for a money move: a number shared by several logins is
        refused (AMBIGUOUS_NUMBER), never guessed.
        """
        what = "pause" if paused else "unpause"
        caller = self.phones.normalise(number) if number is not None else None
        try:
            if login is None:
                match, login = await self.login_for_money(number)
                if match == LoginMatch.AMBIGUOUS:
                    return PauseOutcome(PauseResult.DENIED, PauseReason.AMBIGUOUS_NUMBER)
                if login is None:
                    return PauseOutcome(PauseResult.NOTFOUND)
            outcome = await self.backend.set_paused(login, paused, number=caller, source=source)
        except BillingError as exc:
            log.error("%s for %s failed: %s", what, login or number, exc)
            return PauseOutcome(PauseResult.ERROR, login=login, error=str(exc))
        self._stale.drop_login(login)
        log.info(
            "%s for %s (%s): %s %s",
            what,
            login,
            source.describe(),
            outcome.result,
            outcome.reason or outcome.error or "",
        )
        return outcome

    async def equipment_status(self, raw_number: str | None) -> EquipmentCheck:
        """Whether the switch serving the owner of `raw_number` is up, within
        lookup_timeout (a caller waits for it); never raises: a failure is UNKNOWN."""
        number = self.phones.normalise(raw_number)
        if number is None:
            return EquipmentCheck(EquipmentStatus.UNKNOWN, EquipmentReason.NOTFOUND)
        try:
            async with asyncio.timeout(self.lookup_timeout):
                return await self.backend.equipment_status(number)
        except (BillingError, TimeoutError) as exc:
            reason = str(exc) or "billing did not answer in time"
            log.warning("equipment status for %s failed: %s", number, reason)
            return EquipmentCheck(EquipmentStatus.UNKNOWN, EquipmentReason.ERROR, reason)

    async def verify_pin(self, login: str, pin: str) -> bool | None:
        """True/False for the subscriber's PIN; None when no PIN is set. Raises BillingError."""
        return await self.backend.verify_pin(login, pin)

    async def check(self) -> None:
        await self.backend.check()

    async def healthy(self, deadline: float | None = None) -> bool:
        try:
            async with asyncio.timeout(deadline if deadline is not None else self.lookup_timeout):
                await self.backend.check()
        except (BillingError, TimeoutError):
            return False
        return True

    async def aclose(self) -> None:
        await self.backend.aclose()
