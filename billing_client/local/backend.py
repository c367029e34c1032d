"""LocalBackend: the BillingBackend over pbxbridge's own tables.

Every answer reflects the database as it is when asked: a change made by any process (an
import, a payment at the CLI) is seen by the next call. Call-time lookups go through
CallLookups, which may answer from memory only while the database is provably unchanged.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client import pins, rules
from billing_client.audit import AuditJournal
from billing_client.errors import BillingError
from billing_client.local import flags
from billing_client.local.call_lookups import CallLookups
from billing_client.local.views import subscriber_info
from billing_client.models import Paycard, Subscriber, SubscriberPhone
from billing_client.money import from_cents, to_cents
from billing_client.outcomes import (
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
    FlagsChanged,
    PauseOutcome,
    PauseReason,
    PauseResult,
)
from billing_client.stats import DATABASE, RequestStats
from primitives.clock import Clock


async def lock_subscriber(session: AsyncSession, login: str) -> Subscriber | None:
    """Take the subscriber's row lock (see models.Subscriber) and read it fresh."""
    result = await session.execute(
        update(Subscriber)
        .where(Subscriber.login == login)
        .values(lock_seq=Subscriber.lock_seq + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return None
    return await session.scalar(
        select(Subscriber)
        .where(Subscriber.login == login)
        .execution_options(populate_existing=True)
    )


class LocalBackend:
    name = "local"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        audit: AuditJournal,
        *,
        credit_amount: Decimal | None = None,
        calls: CallLookups | None = None,
        on_flags: FlagsChanged | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audit = audit
        self._credit_amount = credit_amount
        self._calls = calls
        self._on_flags = on_flags
        self.stats = RequestStats()
        """Lookups by kind, and those the database failed (/metrics reads them)."""

    def lookup_call_now(self, number: str) -> Lookup | None:
        if self._calls is None:
            return None
        answer = self._calls.known(number)
        if answer is not None:
            self.stats.asked("lookup_call")
        return answer

    async def lookup_call(
        self,
        number: str,
        *,
        uniqueid: str | None = None,
        deadline: float | None = None,
        details: bool = True,
    ) -> Lookup:
        """One query answers everything, details or not: `details` changes nothing here."""
        if self._calls is None:
            return await self._lookup("lookup_call", self._by_number(number))
        self.stats.asked("lookup_call")
        try:
            return await self._calls.find(number)
        except BillingError:
            self.stats.failed("lookup_call", DATABASE)
            raise

    async def lookup_number(self, number: str) -> Lookup:
        return await self._lookup("lookup_number", self._by_number(number))

    async def lookup_login(self, login: str) -> Lookup:
        return await self._lookup(
            "lookup_login", select(Subscriber).where(Subscriber.login == login)
        )

    @staticmethod
    def _by_number(number: str) -> object:
        return (
            select(Subscriber)
            .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
            .where(SubscriberPhone.phone == number)
        )

    async def _lookup(self, kind: str, stmt: object) -> Lookup:
        self.stats.asked(kind)
        try:
            async with self._sessions() as session:
                row = await session.scalar(stmt)  # type: ignore[call-overload]
                if row is None:
                    return Lookup.not_found()
                return Lookup.found(subscriber_info(row, self._clock.today()))
        except SQLAlchemyError as exc:
            self.stats.failed(kind, DATABASE)
            raise BillingError(f"database error: {type(exc).__name__}") from exc

    async def login_for_money(self, number: str) -> tuple[LoginMatch, str | None]:
        lookup = await self.lookup_number(number)
        if lookup.subscriber is None:
            return LoginMatch.NOTFOUND, None
        return LoginMatch.FOUND, lookup.subscriber.login

    async def set_credit(
        self, login: str, *, amount: Decimal | None, days: int, source: MoneySource
    ) -> CreditOutcome:
        today = self._clock.today()
        async with self._sessions.begin() as session:
            row = await lock_subscriber(session, login)
            if row is None:
                return CreditOutcome(CreditResult.NOTFOUND, login=login)
            info = subscriber_info(row, today)
            limit = amount if amount is not None else (self._credit_amount or info.fee)
            if limit <= 0:
                return CreditOutcome(
                    CreditResult.DENIED,
                    CreditReason.NOT_ALLOWED,
                    login=login,
                    error="no credit amount: tariff fee 0 and billing.credit_amount unset",
                )
            denial = rules.credit_denial(
                status=info.status,
                balance=info.balance,
                credit=from_cents(row.credit_cents),
                credit_expire=row.credit_expire,
                last_credit_on=row.last_credit_on,
                amount=limit,
                today=today,
            )
            if denial is not None:
                return CreditOutcome(CreditResult.DENIED, denial, login=login)
            expire = rules.credit_expiry(today, days)
            session.add(
                self._audit.entry(
                    login=login,
                    kind="credit",
                    field="credit",
                    amount=limit,
                    before=info.credit,
                    after=limit,
                    source=source,
                    outcome="ok",
                    detail=f"until {expire.isoformat()}",
                )
            )
            row.credit_cents = to_cents(limit)
            row.credit_expire = expire
            row.last_credit_on = today
            row.updated_at = self._clock.now()
        return CreditOutcome(CreditResult.OK, amount=limit, expire=expire, login=login)

    async def pay_card(self, login: str, card: str, *, source: MoneySource) -> PaycardOutcome:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = await lock_subscriber(session, login)
            if row is None:
                return PaycardOutcome(PaycardResult.NOTFOUND, login=login)
            paycard = await session.get(Paycard, card, populate_existing=True)
            if paycard is None or not paycard.active:
                return PaycardOutcome(PaycardResult.INVALID, login=login)
            claimed = await session.execute(
                update(Paycard)
                .where(Paycard.number == card, Paycard.used_at.is_(None), Paycard.active.is_(True))
                .values(used_at=now, used_by=login)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return PaycardOutcome(PaycardResult.USED, login=login)
            before = row.balance_cents
            row.balance_cents = before + paycard.amount_cents
            row.updated_at = now
            amount = from_cents(paycard.amount_cents)
            session.add(
                self._audit.entry(
                    login=login,
                    kind="paycard",
                    amount=amount,
                    before=from_cents(before),
                    after=from_cents(row.balance_cents),
                    source=source,
                    outcome="ok",
                    detail=f"card ...{card[-4:]}",
                )
            )
            balance = from_cents(row.balance_cents)
        return PaycardOutcome(PaycardResult.OK, amount=amount, balance=balance, login=login)

    async def set_paused(
        self, login: str, paused: bool, *, number: str | None, source: MoneySource
    ) -> PauseOutcome:
        """The subscriber's own freeze: the `frozen` flag, with the CLI's rule and journal
        (billing_client.local.flags). A disabled subscriber may pause or resume too: the
        two flags are apart, and resuming leaves them disabled (status 3) all the same."""
        async with self._sessions.begin() as session:
            row = await lock_subscriber(session, login)
            if row is None:
                return PauseOutcome(PauseResult.NOTFOUND, login=login)
            if row.frozen == paused:
                reason = PauseReason.ALREADY_PAUSED if paused else PauseReason.NOT_PAUSED
                return PauseOutcome(PauseResult.DENIED, reason, login=login)
            entry = flags.set_flag(
                row,
                "frozen",
                paused,
                audit=self._audit,
                clock=self._clock,
                source=source,
                why="paused by the subscriber" if paused else "resumed by the subscriber",
            )
            assert entry is not None
            session.add(entry)
            blocked = flags.blocked(row)
        if self._on_flags is not None:
            await self._on_flags(login, blocked)
        return PauseOutcome(PauseResult.OK, login=login)

    async def equipment_status(self, number: str) -> EquipmentCheck:
        """The embedded billing keeps no switches or ports: always UNKNOWN."""
        return EquipmentCheck(EquipmentStatus.UNKNOWN, EquipmentReason.NOT_SUPPORTED)

    async def verify_pin(self, login: str, pin: str) -> bool | None:
        async with self._sessions() as session:
            stored = await session.scalar(
                select(Subscriber.pin_hash).where(Subscriber.login == login)
            )
        if stored is None:
            return None
        return await asyncio.to_thread(pins.verify_pin, stored, pin)

    async def check(self) -> None:
        try:
            async with self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise BillingError(f"database unreachable: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._calls is not None:
            await self._calls.aclose()
