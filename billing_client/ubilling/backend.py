"""UbillingBackend: the BillingBackend over a Ubilling remoteapi (see docs/ubilling.md).

Which request answers what, and why (Ubilling caches some answers; see the doc's "Caches"):
- a real call (`lookup_call`): `userstatus&getmoney=1&ignorecache=1` every time (it writes
  Ubilling's call history, which staff rely on; `ignorecache` makes it read the users table
  instead of its hour-old PBXUSERDATA); that one alone when the caller wants no details
  (`details=False`: askozianum, which sets the status only). Otherwise, concurrently, the
  details: who owns the number (`userbynum`, Cyrillic name, no call logged; or
  `param=realname`, transliterated, one more history row), then `getuserdatabylogin`
  (credit, tariff, flags: read from the tables, never cached) and `getonlinedaysleft&login=`
  (days left, Ubilling's own count), both at once. userbynum's own user data comes from a
  cache kept a day, so only its login and name are used. Details cut off at the deadline
  or failed leave their fields unknown (SubscriberInfo.unknown); the status and the
  balance stand as userstatus said them;
- other lookups: `getuserdatabymobile` / `getuserdatabylogin` and `getonlinedaysleft` (no
  call logged), names via `userbynum` only, since `param=realname` would log a call that
  never happened;
- money moves act on `login=`, are written to the audit journal before they are sent,
  are sent once and bounded only by money_timeout, and are read back afterwards because
  Ubilling answers success even when its Stargazer changed nothing; a subscriber's pause
  (setpause / setunpause) is handled the same way (billing_client.ubilling.pauses);
- swstatus (the subscriber's switch up or dead) is asked by number and logs no call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing_client import rules
from billing_client.audit import AuditJournal
from billing_client.breaker import CircuitBreaker
from billing_client.errors import BillingError, UnexpectedReply
from billing_client.outage import OutageAlerts
from billing_client.outcomes import (
    CreditOutcome,
    LoginMatch,
    Lookup,
    MoneySource,
    PaycardOutcome,
)
from billing_client.pause import EquipmentCheck, PauseOutcome
from billing_client.settings import BillingSettings
from billing_client.subscriber import Status, SubscriberInfo
from billing_client.ubilling import replies
from billing_client.ubilling.actions import ActionAnswer, read_answer, unanswered
from billing_client.ubilling.http import UbillingHttp, Unanswered
from billing_client.ubilling.moves import Alert
from billing_client.ubilling.pauses import PauseMoves
from billing_client.ubilling.replies import MoneyReply, UserRecord, cents, local_date
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser

log = logging.getLogger("pbxbridge.billing.ubilling")

_CHECK_LOGIN = "pbxbridge-healthcheck"

_RECORD_FIELDS = frozenset({"credit", "credit_expire", "tariff", "frozen", "disabled", "phones"})
_ALL_DETAILS = _RECORD_FIELDS | {"login", "name", "days_left"}

# A call's details are cut off this long before its deadline, so that the answer built
# from what came in still leaves before the caller's own deadline: a fifth of the budget,
# at most a quarter of a second.
_WRAP_UP_SHARE = 0.2
_WRAP_UP_MAX = 0.25


@dataclass(frozen=True, slots=True)
class _Names:
    """Who the name request says owns the number (login "" when it could not tell)."""

    login: str
    name: str


@dataclass(slots=True)
class _Details:
    """What a call's detail requests have found so far; None until a request answered
    (`days_known` tells "not answered" from Ubilling's "no end" for days)."""

    names: _Names | None = None
    record: UserRecord | None = None
    days: int | None = None
    days_known: bool = False
    problems: list[str] = field(default_factory=list)


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
        self.stats = self._http.stats
        self._secret = settings.key.get_secret_value()
        self._money = PauseMoves(
            settings, self._http, audit, clock=clock, read=self._by_login, alert=alert
        )

    def __repr__(self) -> str:
        return f"UbillingBackend(breaker={self.breaker.state.value})"

    # ------------------------------------------------------------------ periodic actions

    async def periodic_action(
        self, action: str, params: Sequence[tuple[str, str]] = ()
    ) -> ActionAnswer:
        """Run one of Ubilling's periodic remoteapi actions (a crontab line) and read its
        answer (billing_client.ubilling.actions); no answer is a failed one, never raised."""
        reply = await self._http.action(action, params)
        if isinstance(reply, Unanswered):
            return unanswered(action, reply.reason, nothing_done=reply.not_sent)
        return read_answer(action, reply.body, self._secret)

    # ------------------------------------------------------------------ requests

    async def _ask(
        self, what: str, params: Sequence[tuple[str, str]], *, action: str = "asterisk"
    ) -> str:
        reply = await self._http.get(what, action, params)
        return reply.body

    async def _by_login(self, login: str) -> UserRecord | None:
        """getuserdatabylogin (no `userpass`: that check reads a day-old cache); the record
        itself is read from Ubilling's tables on every request."""
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
        """userbynum: the owner by the same cached phone lists userstatus uses, and a name.
        Its other fields come from USER_ALL_DATA, a day old: only login and name are used."""
        reply = await self._http.get("userbynum", "userbynum", [("number", national)])
        return replies.parse_userbynum(reply.body, self._secret)

    async def _getmoney(self, national: str) -> MoneyReply | None:
        body = await self._ask(
            "userstatus",
            [
                ("number", national),
                ("param", "userstatus"),
                ("getmoney", "1"),
                ("ignorecache", "1"),
            ],
        )
        return replies.parse_getmoney(body, self._secret)

    async def _days_left(self, login: str) -> int | None:
        """getonlinedaysleft by login: Ubilling's own count (None: the tariff costs nothing)."""
        body = await self._ask(
            "getonlinedaysleft", [("param", "getonlinedaysleft"), ("login", login)]
        )
        return replies.parse_days_left(body, self._secret)

    # ------------------------------------------------------------------ a call's details

    async def _call_details(self, number: str, national: str, found: _Details) -> None:
        """The owner of the number, then their record and days left at once, into `found`.

        Never raises a BillingError: a failed request leaves its part of `found` empty and
        says why in `found.problems`.
        """
        try:
            login = await self._call_owner(number, national, found)
        except BillingError as exc:
            found.problems.append(str(exc))
            return
        if not login:
            found.problems.append("the name request knows no subscriber with this number")
            return
        parts: list[Awaitable[None]] = [self._call_days(login, found)]
        if found.record is None:
            parts.append(self._call_record(login, found))
        await asyncio.gather(*parts)

    async def _call_owner(self, number: str, national: str, found: _Details) -> str:
        if self._settings.use_userbynum:
            named = await self._userbynum(national)
            found.names = _Names(named.login, named.realname or "") if named else _Names("", "")
            return found.names.login
        body = await self._ask(
            "realname", [("number", national), ("param", "realname"), ("ignorecache", "1")]
        )
        parsed = replies.parse_realname(body, self._secret)
        if parsed is not None:
            found.names = _Names(*parsed)
            return found.names.login
        # realname matches the last 10 characters of stored strings; userstatus found the
        # number by digits, so it may be stored formatted. Ask by substring instead.
        record = await self._by_number(number, national)
        found.names = _Names(record.login, "") if record else _Names("", "")
        found.record = record
        return found.names.login

    async def _call_record(self, login: str, found: _Details) -> None:
        try:
            record = await self._by_login(login)
        except BillingError as exc:
            found.problems.append(str(exc))
            return
        if record is None:
            found.problems.append(f"getuserdatabylogin knows no {login!r}")
        found.record = record

    async def _call_days(self, login: str, found: _Details) -> None:
        try:
            found.days = await self._days_left(login)
        except BillingError as exc:
            found.problems.append(str(exc))
            return
        found.days_known = True

    @staticmethod
    def _details_by(deadline: float | None) -> float | None:
        if deadline is None:
            return None
        budget = max(0.0, deadline - asyncio.get_running_loop().time())
        return deadline - min(_WRAP_UP_MAX, budget * _WRAP_UP_SHARE)

    @staticmethod
    async def _settle(details: asyncio.Task[None], by: float | None) -> bool:
        """Wait for the detail requests until `by` (loop time); False when cut off then
        (the requests still in flight are cancelled)."""
        if by is None:
            await details
            return True
        try:
            async with asyncio.timeout_at(by):
                await details
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ lookups

    def lookup_call_now(self, number: str) -> Lookup | None:
        """Never: every call is asked of Ubilling (it logs the call in its history)."""
        return None

    async def lookup_call(
        self,
        number: str,
        *,
        uniqueid: str | None = None,
        deadline: float | None = None,
        details: bool = True,
    ) -> Lookup:
        national = self._phones.national(number)
        if not details:  # the status alone: one request, nothing else asked
            money = await self._getmoney(national)
            if money is None:
                return Lookup.not_found()
            return Lookup.found(self._from_call(number, money, _Details(), asked=False))
        details_by = self._details_by(deadline)
        found = _Details()
        asking = asyncio.create_task(self._call_details(number, national, found))
        try:
            money = await self._getmoney(national)
        except BaseException:
            asking.cancel()
            raise
        # Even for an unknown number the details are waited for (they are quick then):
        # cancelling requests in flight would count against the breaker.
        if not await self._settle(asking, details_by):
            found.problems.append("not answered before the call's deadline")
        if money is None:
            return Lookup.not_found()
        return Lookup.found(self._from_call(number, money, found))

    async def lookup_number(self, number: str) -> Lookup:
        national = self._phones.national(number)
        if not self._settings.use_userbynum:
            only = await self._by_number(number, national)
            if only is None:
                return Lookup.not_found()
            return Lookup.found(self._from_record(only, "", *await self._days_for(only.login)))
        record, named = await asyncio.gather(
            self._by_number(number, national), self._userbynum(national), return_exceptions=True
        )
        if isinstance(record, BaseException):
            raise record
        if record is None:
            return Lookup.not_found()
        days = await self._days_for(record.login)
        return Lookup.found(self._from_record(record, self._name_of(record, named, number), *days))

    async def lookup_login(self, login: str) -> Lookup:
        record = await self._by_login(login)
        if record is None:
            return Lookup.not_found()
        numbers = self._e164(record.mobiles)
        if not (self._settings.use_userbynum and numbers):
            return Lookup.found(self._from_record(record, "", *await self._days_for(record.login)))
        named, days = await asyncio.gather(
            self._userbynum(self._phones.national(numbers[0])),
            self._days_for(record.login),
            return_exceptions=True,
        )
        if isinstance(days, BaseException):
            raise days
        return Lookup.found(self._from_record(record, self._name_of(record, named, login), *days))

    async def _days_for(self, login: str) -> tuple[int | None, bool]:
        """Days left for a lookup that is not a call: (days, known); a failure leaves it
        unknown instead of failing the lookup."""
        try:
            return await self._days_left(login), True
        except BillingError as exc:
            log.warning(
                "Ubilling getonlinedaysleft for %s failed, days left unknown: %s", login, exc
            )
            return None, False

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
            "loginuniq",
            [
                ("number", self._phones.national(number)),
                ("param", "loginuniq"),
                ("ignorecache", "1"),  # the status it logs in Ubilling's call history
            ],
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

    def _from_call(
        self, number: str, money: MoneyReply, found: _Details, *, asked: bool = True
    ) -> SubscriberInfo:
        """Status, balance and fee from userstatus; the rest from the details that came
        (`asked` False: none were asked for, so none missing is worth a warning)."""
        names, record = found.names, found.record
        if record is not None and not self._agrees(money, record):
            found.problems.append(
                f"the details of {record.login} disagree with userstatus (status "
                f"{int(record.status)} vs {int(money.status)}, balance {cents(record.cash)} vs "
                f"{cents(money.cash)}): a payment in between, or another subscriber"
            )
            names = record = None
        unknown: set[str] = set()
        if names is None or not names.login:
            names, record = None, None
            unknown |= _ALL_DETAILS
        if record is None:
            unknown |= _RECORD_FIELDS
        if not found.days_known or names is None:
            unknown.add("days_left")
        if unknown and asked:
            log.warning(
                "Ubilling details for %s incomplete, left unset (%s): %s",
                number,
                ", ".join(sorted(unknown)),
                "; ".join(found.problems) or "no answer",
            )
        return SubscriberInfo(
            login=names.login if names else "",
            name=names.name if names else "",
            status=money.status,
            balance=cents(money.cash),
            credit=cents(record.credit) if record else Decimal("0.00"),
            credit_expire=self._expire(record.credit_expire) if record else None,
            tariff=record.tariff if record else "",
            fee=cents(money.fee),
            frozen=record.passive if record else money.status == Status.FROZEN,
            disabled=(record.down or not record.always_online) if record else False,
            days_left=found.days if "days_left" not in unknown else None,
            phones=self._e164(record.mobiles) if record else (),
            unknown=frozenset(unknown),
        )

    @staticmethod
    def _agrees(money: MoneyReply, record: UserRecord) -> bool:
        """Whether a record can be the subscriber userstatus answered for, as it was then."""
        return record.status == money.status and cents(record.cash) == cents(money.cash)

    def _from_record(
        self, record: UserRecord, name: str, days: int | None, days_known: bool
    ) -> SubscriberInfo:
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
            days_left=days,
            phones=self._e164(record.mobiles),
            unknown=frozenset() if days_known else frozenset({"days_left"}),
        )

    # ------------------------------------------------------------------ money moves

    async def set_credit(
        self, login: str, *, amount: Decimal | None, days: int, source: MoneySource
    ) -> CreditOutcome:
        return await self._money.set_credit(login, amount=amount, days=days, source=source)

    async def pay_card(self, login: str, card: str, *, source: MoneySource) -> PaycardOutcome:
        return await self._money.pay_card(login, card, source=source)

    async def set_paused(
        self, login: str, paused: bool, *, number: str | None, source: MoneySource
    ) -> PauseOutcome:
        national = self._phones.national(number) if number is not None else None
        return await self._money.set_paused(login, paused, national=national, source=source)

    async def equipment_status(self, number: str) -> EquipmentCheck:
        """param=swstatus: matched on the number's last 10 digits, logs no call."""
        body = await self._ask(
            "swstatus", [("number", self._phones.national(number)), ("param", "swstatus")]
        )
        return replies.parse_swstatus(body, self._secret)

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
