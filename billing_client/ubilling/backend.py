"""UbillingBackend: the BillingBackend over a Ubilling remoteapi (see docs/ubilling.md).

Which request answers what, and why:
- a real call (`lookup_call`): `userstatus&getmoney=1` every time (it writes Ubilling's call
  history, which staff rely on), concurrently with a name request: `userbynum` (Cyrillic
  name, no call logged) or `param=realname` (transliterated; logs a second history row);
- other lookups: `getuserdatabymobile` / `getuserdatabylogin` (no call logged), names via
  `userbynum` only, since `param=realname` would log a call that never happened;
- money moves act on `login=`, are written to the audit journal before they are sent,
  are sent once and bounded only by money_timeout, and are read back afterwards because
  Ubilling answers success even when its Stargazer changed nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing_client import rules
from billing_client.audit import AuditJournal
from billing_client.breaker import CircuitBreaker
from billing_client.clock import Clock
from billing_client.errors import BillingError, UnexpectedReply
from billing_client.outage import OutageAlerts
from billing_client.outcomes import (
    CreditOutcome,
    LoginMatch,
    Lookup,
    MoneySource,
    PaycardOutcome,
)
from billing_client.phones import PhoneNormaliser
from billing_client.settings import BillingSettings
from billing_client.subscriber import Status, SubscriberInfo
from billing_client.ubilling import replies
from billing_client.ubilling.http import UbillingHttp
from billing_client.ubilling.moves import Alert, MoneyMoves
from billing_client.ubilling.replies import MoneyReply, UserRecord, cents, local_date

log = logging.getLogger("pbxbridge.billing.ubilling")

_CHECK_LOGIN = "pbxbridge-healthcheck"


@dataclass(frozen=True, slots=True)
class _Names:
    """Who the name request says owns the number (login "" when it could not tell)."""

    login: str
    name: str
    record: UserRecord | None


class UbillingBackend:
    name = "ubilling"

    def __init__(
        self,
        settings: BillingSettings,
        audit: AuditJournal,
        clock: Clock,
        phones: PhoneNormaliser,
        alert: Alert | None = None,
        *,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._phones = phones
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failures, settings.breaker_reset, name="Ubilling"
        )
        self._outage = OutageAlerts("Ubilling", alert)
        self.breaker.watch(self._outage.changed)
        self._http = UbillingHttp(settings, self.breaker)
        self._secret = settings.key.get_secret_value()
        self._money = MoneyMoves(
            settings, self._http, audit, clock=clock, read=self._by_login, alert=alert
        )

    def __repr__(self) -> str:
        return f"UbillingBackend(breaker={self.breaker.state.value})"

    # ------------------------------------------------------------------ requests

    async def _ask(
        self, what: str, params: Sequence[tuple[str, str]], *, action: str = "asterisk"
    ) -> str:
        reply = await self._http.get(what, action, params)
        return reply.body

    async def _by_login(self, login: str) -> UserRecord | None:
        body = await self._ask(
            "getuserdatabylogin", [("param", "getuserdatabylogin"), ("login", login)]
        )
        records = replies.parse_userdata(body, self._secret)
        if not records:
            return None
        # MySQL compares logins case-insensitively: accept the one row it found.
        match = [r for r in records.values() if r.login.lower() == login.lower()]
        if len(records) != 1 or not match:
            raise UnexpectedReply("getuserdatabylogin", f"{len(records)} records for one login")
        return match[0]

    async def _by_number(self, number: str, national: str) -> UserRecord | None:
        """getuserdatabymobile (SQL LIKE on stored mobiles): the record owning exactly this
        number if one does, else the first, as Ubilling itself does."""
        body = await self._ask(
            "getuserdatabymobile", [("param", "getuserdatabymobile"), ("number", national)]
        )
        records = list(replies.parse_userdata(body, self._secret).values())
        exact = [r for r in records if number in self._e164(r.mobiles)]
        return (exact or records)[0] if records else None

    async def _userbynum(self, national: str) -> UserRecord | None:
        reply = await self._http.get("userbynum", "userbynum", [("number", national)])
        return replies.parse_userbynum(reply.body, self._secret)

    async def _getmoney(self, national: str) -> MoneyReply | None:
        body = await self._ask(
            "userstatus",
            [("number", national), ("param", "userstatus"), ("getmoney", "1")],
        )
        return replies.parse_getmoney(body, self._secret)

    async def _names_for_call(self, number: str, national: str) -> _Names:
        if self._settings.use_userbynum:
            record = await self._userbynum(national)
            if record is None:
                return _Names("", "", None)
            return _Names(record.login, record.realname or "", record)
        body = await self._ask("realname", [("number", national), ("param", "realname")])
        found = replies.parse_realname(body, self._secret)
        if found is None:
            # realname matches the last 10 characters of stored strings; userstatus found the
            # number by digits, so it may be stored formatted. Ask by substring instead.
            record = await self._by_number(number, national)
            return _Names(record.login, "", record) if record else _Names("", "", None)
        login, name = found
        return _Names(login, name, await self._by_login(login))

    # ------------------------------------------------------------------ lookups

    async def lookup_call(self, number: str, *, uniqueid: str | None = None) -> Lookup:
        national = self._phones.national(number)
        money, names = await asyncio.gather(
            self._getmoney(national), self._names_for_call(number, national), return_exceptions=True
        )
        if isinstance(money, BaseException):
            raise money
        if isinstance(names, BaseException) and not isinstance(names, BillingError):
            raise names
        if money is None:
            return Lookup.not_found()
        if isinstance(names, BillingError):
            log.warning(
                "Ubilling name lookup for %s failed, answering without it: %s", number, names
            )
            names = _Names("", "", None)
        return Lookup.found(self._from_call(money, names))

    async def lookup_number(self, number: str) -> Lookup:
        national = self._phones.national(number)
        if not self._settings.use_userbynum:
            only = await self._by_number(number, national)
            return Lookup.found(self._from_record(only, "")) if only else Lookup.not_found()
        record, named = await asyncio.gather(
            self._by_number(number, national), self._userbynum(national), return_exceptions=True
        )
        if isinstance(record, BaseException):
            raise record
        if record is None:
            return Lookup.not_found()
        return Lookup.found(self._from_record(record, self._name_of(record, named, number)))

    async def lookup_login(self, login: str) -> Lookup:
        record = await self._by_login(login)
        if record is None:
            return Lookup.not_found()
        name = ""
        numbers = self._e164(record.mobiles)
        if self._settings.use_userbynum and numbers:
            named: UserRecord | BaseException | None
            try:
                named = await self._userbynum(self._phones.national(numbers[0]))
            except BillingError as exc:
                named = exc
            name = self._name_of(record, named, record.login)
        return Lookup.found(self._from_record(record, name))

    def _name_of(
        self, record: UserRecord, named: UserRecord | BaseException | None, who: str
    ) -> str:
        if isinstance(named, BaseException):
            if not isinstance(named, BillingError):
                raise named
            log.warning(
                "Ubilling userbynum for %s failed, answering without a name: %s", who, named
            )
            return ""
        if named is None or named.login != record.login:
            return ""  # userbynum matches differently (digits, last match wins)
        return named.realname or ""

    async def login_for_money(self, number: str) -> tuple[LoginMatch, str | None]:
        body = await self._ask(
            "loginuniq", [("number", self._phones.national(number)), ("param", "loginuniq")]
        )
        return replies.parse_loginuniq(body, self._secret)

    # ------------------------------------------------------------------ building answers

    def _e164(self, stored: Sequence[str]) -> tuple[str, ...]:
        numbers: list[str] = []
        for raw in stored:
            number = self._phones.normalise(raw)
            if number is not None and number not in numbers:
                numbers.append(number)
        return tuple(numbers)

    def _expire(self, stamp: int | None) -> date | None:
        return local_date(stamp, self._clock.tz)

    def _from_call(self, money: MoneyReply, names: _Names) -> SubscriberInfo:
        record = names.record
        credit = record.credit if record else Decimal(0)
        return SubscriberInfo(
            login=names.login,
            name=names.name,
            status=money.status,
            balance=cents(money.cash),
            credit=cents(credit),
            credit_expire=self._expire(record.credit_expire) if record else None,
            tariff=record.tariff if record else "",
            fee=cents(money.fee),
            frozen=record.passive if record else money.status == Status.FROZEN,
            disabled=(record.down or not record.always_online) if record else False,
            days_left=rules.days_left(
                balance=money.cash, credit=credit, fee=money.fee, today=self._clock.today()
            ),
            phones=self._e164(record.mobiles) if record else (),
        )

    def _from_record(self, record: UserRecord, name: str) -> SubscriberInfo:
        disabled = record.down or not record.always_online
        fee = record.fee or Decimal(0)
        return SubscriberInfo(
            login=record.login,
            name=name,
            status=rules.status_of(
                balance=record.cash, credit=record.credit, frozen=record.passive, disabled=disabled
            ),
            balance=cents(record.cash),
            credit=cents(record.credit),
            credit_expire=self._expire(record.credit_expire),
            tariff=record.tariff,
            fee=cents(fee),
            frozen=record.passive,
            disabled=disabled,
            days_left=rules.days_left(
                balance=record.cash, credit=record.credit, fee=fee, today=self._clock.today()
            ),
            phones=self._e164(record.mobiles),
        )

    # ------------------------------------------------------------------ money moves

    async def set_credit(
        self, login: str, *, amount: Decimal | None, days: int, source: MoneySource
    ) -> CreditOutcome:
        return await self._money.set_credit(login, amount=amount, days=days, source=source)

    async def pay_card(self, login: str, card: str, *, source: MoneySource) -> PaycardOutcome:
        return await self._money.pay_card(login, card, source=source)

    async def verify_pin(self, login: str, pin: str) -> bool | None:
        """Ubilling keeps no IVR PINs (settings refuse agi.require_pin with this backend)."""
        return None

    # ------------------------------------------------------------------ CallMeBack

    async def callmeback(self, number_digits: str) -> None:
        """Put a callback request in Ubilling's CallMeBack list (`action=callmeback`).

        Ubilling keeps digits only and answers `OK:CALLMEBACK` even when none are left, so
        a number without digits is refused here. Raises BillingError (UbillingRefused with
        CallMeBack switched off in alter.ini).
        """
        digits = "".join(c for c in number_digits if c in "0123456789")
        if not digits:
            raise BillingError(f"callmeback: {number_digits!r} has no digits")
        reply = await self._http.get("callmeback", "callmeback", [("param", digits)])
        replies.parse_callmeback(reply.body, self._secret)

    # ------------------------------------------------------------------ health, shutdown

    async def check(self) -> None:
        body = await self._ask("check", [("param", "getuserdatabylogin"), ("login", _CHECK_LOGIN)])
        replies.parse_userdata(body, self._secret)

    async def aclose(self) -> None:
        await self._money.drain()
        await self._http.aclose()
        await self._outage.aclose()
